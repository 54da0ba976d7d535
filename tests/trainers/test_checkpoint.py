"""Checkpoints: exact resume, atomic writes, pruning, and files that are refused rather than run."""

import os
import pickle

import pytest
import torch

from tests.helpers import faces_folder, tiny_config
from trainers import events as ev
from trainers.checkpoint import CheckpointError, latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from trainers.loop import resume_config, train


def final_weights(run_dir):
    return load_checkpoint(latest_checkpoint(run_dir))["models"]


@pytest.mark.parametrize("model", ["dcgan", "wgan-gp"])
def test_resume_continues_exactly(model, tmp_path):
    data = faces_folder(tmp_path)
    straight = tiny_config(model, data, tmp_path / "straight", steps=6, checkpoint_every=100)
    list(train(straight))
    split = tiny_config(model, data, tmp_path / "split", steps=3, checkpoint_every=100)
    list(train(split))
    resumed = resume_config(tmp_path / "split", steps=6)
    events = list(train(resumed, resume=True))
    assert events[0].step == 3 and events[-1].step == 6
    a, b = final_weights(tmp_path / "straight"), final_weights(tmp_path / "split")
    for net in a:
        for name in a[net]:
            assert torch.allclose(a[net][name].float(), b[net][name].float(), atol=1e-6), (net, name)


def test_resume_refuses_changed_architecture(tmp_path):
    list(train(tiny_config("dcgan", faces_folder(tmp_path), tmp_path / "run", steps=2)))
    from trainers.config import ConfigError

    with pytest.raises(ConfigError, match="z_dim"):
        resume_config(tmp_path / "run", z_dim=7, steps=4)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        resume_config(tmp_path / "elsewhere")


def test_only_the_newest_checkpoints_are_kept_and_latest_points_at_the_newest(tmp_path):
    config = tiny_config("dcgan", faces_folder(tmp_path), tmp_path / "run", steps=8, checkpoint_every=1,
                         keep_checkpoints=3)
    list(train(config))
    names = [p.name for p in list_checkpoints(tmp_path / "run")]
    assert names == ["step-000000006.pt", "step-000000007.pt", "step-000000008.pt"]
    assert latest_checkpoint(tmp_path / "run").name == "step-000000008.pt"
    assert not [p for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.endswith(".tmp")]


def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    run = tmp_path / "run"
    save_checkpoint(run, {"step": 1, "models": {}}, 1)

    def boom(obj, f):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_checkpoint(run, {"step": 2, "models": {}}, 2)
    assert latest_checkpoint(run).name == "step-000000001.pt"
    assert load_checkpoint(latest_checkpoint(run))["step"] == 1
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step-000000001.pt"]


class Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_a_checkpoint_with_a_code_payload_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pt"
    torch.save({"format": "gan-studio-checkpoint", "models": Payload()}, evil)
    raw = tmp_path / "evil.pkl.pt"
    raw.write_bytes(pickle.dumps(Payload()))
    for path in (evil, raw):
        with pytest.raises(CheckpointError, match="refused|not a readable"):
            load_checkpoint(path)
    assert not (tmp_path / "PWNED").exists()


def test_truncated_and_foreign_files_are_clear_errors(tmp_path):
    run = tmp_path / "run"
    good = save_checkpoint(run, {"step": 1, "models": {"G": {"w": torch.ones(100)}}}, 1)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="cut.pt"):
        load_checkpoint(cut)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(CheckpointError, match="not a GAN Studio checkpoint"):
        load_checkpoint(other)
    # a file that is no checkpoint at all is called that, not a refused pickle
    text = tmp_path / "notes.txt"
    text.write_text("just some notes")
    with pytest.raises(CheckpointError, match=r"notes.txt is not a checkpoint: open a run folder"):
        load_checkpoint(text)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty.pt is empty \(0 bytes\)"):
        load_checkpoint(empty)


def test_stop_and_pause_are_honoured_between_steps_and_stop_saves(tmp_path):
    import threading

    from trainers.loop import TrainControl

    config = tiny_config("dcgan", faces_folder(tmp_path), tmp_path / "run", steps=10_000, checkpoint_every=10_000,
                         sample_every=10_000, log_every=1)
    control = TrainControl()
    seen = []
    for event in train(config, control=control):
        seen.append(event)
        if isinstance(event, ev.Progress) and event.step == 3:
            control.pause()
        if isinstance(event, ev.Paused):
            threading.Timer(0.2, control.resume).start()
        if isinstance(event, ev.Resumed):
            control.stop()
    kinds = [type(e).__name__ for e in seen]
    assert "Paused" in kinds and "Resumed" in kinds
    finished = seen[-1]
    assert isinstance(finished, ev.Finished) and finished.stopped and 3 <= finished.step <= 5
    assert finished.checkpoint and load_checkpoint(finished.checkpoint)["step"] == finished.step
