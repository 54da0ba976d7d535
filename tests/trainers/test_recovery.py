"""Recovery: divergence rolls back with a lower learning rate, a failed checkpoint write pauses without loss,
a process killed mid-write resumes, and crafted model files are refused."""

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import torch

from tests.helpers import faces_folder, tiny_config
from trainers import checkpoint as ckpt_module
from trainers import events as ev
from trainers.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from trainers.families import DcganRecipe
from trainers.loop import TrainControl, read_log, resume_config, train


def test_nan_losses_roll_back_to_the_last_checkpoint_with_a_lower_learning_rate(tmp_path, monkeypatch):
    original = DcganRecipe.step
    poisoned = {"done": False}

    def step(self, batches, step_index):
        stats = original(self, batches, step_index)
        if step_index == 6 and not poisoned["done"]:  # once: the weights blow up at step 7
            poisoned["done"] = True
            with torch.no_grad():
                next(self.G.parameters()).fill_(float("nan"))
        return stats

    monkeypatch.setattr(DcganRecipe, "step", step)
    config = tiny_config("dcgan", faces_folder(tmp_path), tmp_path / "run", steps=12, checkpoint_every=4,
                         log_every=2, sample_every=100)
    events = list(train(config))
    notices = [e.message for e in events if isinstance(e, ev.Notice)]
    assert any("diverged at step 8" in m and "rolled back to step 4" in m and "x0.5" in m for m in notices), notices
    assert isinstance(events[-1], ev.Finished) and events[-1].step == 12
    final = load_checkpoint(latest_checkpoint(tmp_path / "run"))
    assert final["lr_scale"] == 0.5
    assert final["optimizers"]["G"]["param_groups"][0]["lr"] == pytest.approx(config.lr_g * 0.5)
    assert all(torch.isfinite(v).all() for v in final["models"]["G"].values() if v.is_floating_point())


def test_divergence_without_a_checkpoint_fails_clearly(tmp_path, monkeypatch):
    original = DcganRecipe.step

    def step(self, batches, step_index):
        stats = original(self, batches, step_index)
        stats["Loss/D"] = torch.tensor(float("inf"))
        return stats

    monkeypatch.setattr(DcganRecipe, "step", step)
    events = list(train(tiny_config("dcgan", faces_folder(tmp_path), tmp_path / "run", steps=10,
                                    checkpoint_every=100)))
    assert isinstance(events[-1], ev.Failed) and "no checkpoint to go back to" in events[-1].message


def test_a_full_disk_pauses_training_and_loses_nothing(tmp_path, monkeypatch):
    real_save = ckpt_module.save_checkpoint
    failures = {"left": 1}

    def flaky(run_dir, state, step, **kw):
        if step == 4 and failures["left"]:
            failures["left"] -= 1
            raise OSError(28, "No space left on device")
        return real_save(run_dir, state, step, **kw)

    import trainers.loop as loop

    monkeypatch.setattr(loop, "save_checkpoint", flaky)
    control = TrainControl()
    config = tiny_config("dcgan", faces_folder(tmp_path), tmp_path / "run", steps=6, checkpoint_every=2,
                         sample_every=100)
    events = []
    for event in train(config, control=control):
        events.append(event)
        if isinstance(event, ev.Paused):
            assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["step-000000002.pt"]
            threading.Timer(0.1, control.resume).start()
    kinds = [type(e).__name__ for e in events]
    assert "No space left" in [e for e in events if isinstance(e, ev.Notice)][0].message
    assert kinds.index("Paused") < kinds.index("Resumed")
    steps_saved = [e.step for e in events if isinstance(e, ev.Checkpointed)]
    assert steps_saved == [2, 4, 6]  # step 4 was written after the pause, before any further training
    assert isinstance(events[-1], ev.Finished) and not events[-1].stopped


SLOW_SAVE = textwrap.dedent("""
    import sys, time, torch
    import trainers.checkpoint as c
    real = torch.save
    def slow(obj, f):
        if obj.get("step") == 4:
            f.write(b"PK partial")
            f.flush()
            print("WRITING", flush=True)
            time.sleep(60)
        real(obj, f)
    c.torch.save = slow
    from trainers.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_a_process_killed_mid_checkpoint_resumes_from_the_previous_one(tmp_path):
    data = faces_folder(tmp_path)
    run = tmp_path / "run"
    args = ["train", str(data), "--out", str(run), "--steps", "6", "--checkpoint-every", "2", "--resolution", "32",
            "--batch", "4", "--g-width", "32", "--d-width", "8", "--device", "cpu", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))), text=True)
    try:
        for line in proc.stdout:
            if "WRITING" in line:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert latest_checkpoint(run).name == "step-000000002.pt"
    assert load_checkpoint(latest_checkpoint(run))["step"] == 2
    events = list(train(resume_config(run, steps=6), resume=True))
    assert events[0].step == 2 and isinstance(events[-1], ev.Finished) and events[-1].step == 6
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.endswith(".tmp")]  # the torn write is swept


class Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


@pytest.mark.parametrize("name", ["model.onnx", "model.pt", "run/checkpoints/step-000000001.pt", "inception.pth"])
def test_a_pickle_with_code_under_every_extension_is_refused(tmp_path, monkeypatch, name):
    from trainers.inference import ModelError, open_model
    from trainers.metrics import InceptionFeatures, MetricError

    monkeypatch.chdir(tmp_path)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(Payload()))
    if name.startswith("run/"):
        (tmp_path / "run" / "checkpoints" / "latest").write_text("step-000000001.pt")
    if name.endswith(".pth"):
        with pytest.raises(MetricError, match="refused"):
            InceptionFeatures(str(path))
    else:
        with pytest.raises(ModelError) as info:
            open_model(tmp_path / "run" if name.startswith("run/") else path)
        assert path.name in str(info.value) or "run" in str(info.value)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("model", ["wgan-gp", "stylegan2"])
def test_out_of_memory_retries_with_gradient_accumulation(tmp_path, monkeypatch, model):
    from trainers.stylegan2_recipe import StyleGAN2Recipe

    cls = StyleGAN2Recipe if model == "stylegan2" else DcganRecipe
    original = cls.step

    def step(self, batches, step_index):
        if self.accumulation == 1 and step_index == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(self, batches, step_index)

    monkeypatch.setattr(cls, "step", step)
    extra = {"z_dim": 32} if model == "stylegan2" else {}
    events = list(train(tiny_config(model, faces_folder(tmp_path), tmp_path / "run", steps=4, **extra)))
    notices = [e.message for e in events if isinstance(e, ev.Notice)]
    assert any("out of memory at step 2" in m and "2 chunks of 2 images" in m and "batch stays 4" in m
               for m in notices), notices
    assert isinstance(events[-1], ev.Finished) and events[-1].step == 4
    progress = [e for e in events if isinstance(e, ev.Progress)]
    assert all(np.isfinite(v) for p in progress for v in p.stats.values())


def test_out_of_memory_while_the_discriminator_is_frozen_leaves_it_training(tmp_path, monkeypatch):
    """The generator's update freezes D's weights; an error there must not leave them frozen for the retry."""
    from trainers.nets.dcgan import SampleDiscriminator

    original = SampleDiscriminator.forward
    raised = {"done": False}

    def forward(self, x):
        if not raised["done"] and not next(self.parameters()).requires_grad:
            raised["done"] = True
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(self, x)

    monkeypatch.setattr(SampleDiscriminator, "forward", forward)
    config = tiny_config("dcgan", faces_folder(tmp_path), tmp_path / "run", steps=4, checkpoint_every=100)
    events = list(train(config))
    assert raised["done"]
    assert any(isinstance(e, ev.Notice) and "out of memory at step 1" in e.message for e in events)
    assert isinstance(events[-1], ev.Finished) and events[-1].step == 4, events[-1]
    final = load_checkpoint(latest_checkpoint(tmp_path / "run"))
    # D kept learning: its update in the interrupted step plus one in each of the 4 steps; G made its 4.
    assert all(float(s["step"]) == 5 for s in final["optimizers"]["D"]["state"].values())
    assert all(float(s["step"]) == 4 for s in final["optimizers"]["G"]["state"].values())


def test_the_log_keeps_one_line_per_step_across_a_crash_and_resume(tmp_path):
    run = tmp_path / "run"
    list(train(tiny_config("dcgan", faces_folder(tmp_path), run, steps=6, checkpoint_every=4, log_every=1)))
    with open(run / "log.jsonl", "a") as f:
        f.write('{"step": 7, "images_s')  # a line cut short by a crash
    assert [row["step"] for row in read_log(run)] == [1, 2, 3, 4, 5, 6]
    assert [row["step"] for row in read_log(run, up_to_step=4)] == [1, 2, 3, 4]
    assert all("Loss/D" in row and "Loss/G" in row for row in read_log(run))
    # as if the process had died after step 6 but before its checkpoint: steps 5 and 6 are trained again
    (run / "checkpoints" / "step-000000006.pt").unlink()
    (run / "checkpoints" / "latest").write_text("step-000000004.pt")
    list(train(resume_config(run, steps=8), resume=True))
    assert [row["step"] for row in read_log(run)] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_run_that_scores_keeps_its_best_checkpoint_past_the_newest(tmp_path):
    from trainers.checkpoint import checkpoint_step

    data = faces_folder(tmp_path, n=24)
    config = tiny_config("dcgan", data, tmp_path / "run", steps=12, checkpoint_every=2, keep_checkpoints=1,
                         score_every=2, score_n=16, sample_every=100)
    events = list(train(config))
    scores = {e.step: e.scores["SWD"] for e in events if isinstance(e, ev.Scored)}
    assert sorted(scores) == [2, 4, 6, 8, 10, 12]
    # each score is announced as it starts (a CPU takes seconds over it), then given
    announced = [(type(e).__name__, e.step) for e in events if isinstance(e, (ev.Scoring, ev.Scored))]
    assert announced == [(kind, s) for s in sorted(scores) for kind in ("Scoring", "Scored")]
    best = min(scores, key=scores.get)
    assert best < 12, scores  # (so that keeping it is more than keeping the newest)
    kept = [checkpoint_step(p) for p in list_checkpoints(tmp_path / "run")]
    assert kept == sorted({best, 12})  # the newest (keep 1) and the best-scoring one, nothing else
    assert events[-1].best_checkpoint == str(list_checkpoints(tmp_path / "run")[0])  # the run says which
    assert events[-1].best_swd == scores[best]

    # resumed without scoring, the run still keeps the best one it scored
    events = list(train(resume_config(tmp_path / "run", steps=16, score_every=0), resume=True))
    assert not any(isinstance(e, ev.Scored) for e in events) and isinstance(events[-1], ev.Finished)
    assert events[-1].best_swd == scores[best]
    assert [checkpoint_step(p) for p in list_checkpoints(tmp_path / "run")] == sorted({best, 16})


def test_following_a_log_that_another_process_writes_reads_each_line_once(tmp_path):
    from trainers.loop import LogFollower

    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1, "Loss/D": 1.0}\n')
    follower = LogFollower(tmp_path)
    assert [r["step"] for r in follower.new_rows()] == [1]  # what the log holds so far
    assert follower.new_rows() == []
    with open(log, "a") as f:
        f.write('{"step": 2, "Loss/D": 0.9}\n{"step": 3, "Lo')  # the second line is still being written
    assert [r["step"] for r in follower.new_rows()] == [2]
    with open(log, "a") as f:
        f.write('ss/D": 0.8}\n')
    assert follower.new_rows() == [{"step": 3, "Loss/D": 0.8}]
    assert follower.new_rows() == []
    log.write_text('{"step": 1, "Loss/D": 1.0}\n')  # cut back to step 1 (a rollback): what follows is new
    with open(log, "a") as f:
        f.write('{"step": 2, "Loss/D": 0.7}\n')
    assert follower.new_rows() == [{"step": 2, "Loss/D": 0.7}]
    # cut back again, and grown past where it was before the follower looks: still told apart
    log.write_text('{"step": 1, "Loss/D": 1.0}\n' + "".join(f'{{"step": {s}, "Loss/D": 0.5}}\n' for s in (2, 3, 4)))
    assert [r["step"] for r in follower.new_rows()] == [2, 3, 4]
    assert [r["step"] for r in LogFollower(tmp_path).new_rows()] == [1, 2, 3, 4]  # a new follower: every line


def test_a_stop_while_the_faces_are_scored_ends_the_run_at_once_with_its_checkpoint(tmp_path):
    from trainers.checkpoint import checkpoint_step

    config = tiny_config("dcgan", faces_folder(tmp_path, n=24), tmp_path / "run", steps=8, checkpoint_every=100,
                         score_every=2, score_n=16, sample_every=100)
    control, events = TrainControl(), []
    for event in train(config, control=control):
        events.append(event)
        if isinstance(event, ev.Scoring) and event.step == 4:
            control.stop()  # as the user presses Stop while the faces of step 4 are being made
    assert [e.step for e in events if isinstance(e, ev.Scored)] == [2]  # step 4's score was dropped, not taken
    assert isinstance(events[-1], ev.Finished) and events[-1].stopped and events[-1].step == 4
    assert [checkpoint_step(p) for p in list_checkpoints(tmp_path / "run")] == [4]  # nothing lost
    assert [r["step"] for r in read_log(tmp_path / "run") if "Score/SWD" in r] == [2]
