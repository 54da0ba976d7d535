"""Two CPU processes under torchrun (gloo) train one model; the run resumes with a different process count."""

import os
import subprocess
import sys
from pathlib import Path

import torch

from tests.helpers import faces_folder
from trainers.checkpoint import latest_checkpoint, load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--resolution", "32", "--batch", "4", "--g-width", "32", "--d-width", "8", "--device", "cpu",
        "--log-every", "2", "--quiet"]


def run(args, nproc=None):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    prefix = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] if nproc \
        else [sys.executable]
    return subprocess.run([*prefix, "-m", "trainers", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_two_gloo_processes_train_and_resume_with_one(tmp_path):
    data = faces_folder(tmp_path, n=16, size=32)
    out = tmp_path / "run"
    result = run(["train", str(data), "--model", "wgan-gp", "--n-critic", "2", "--out", str(out), "--steps", "4",
                  "--checkpoint-every", "2", "--sample-every", "2", *TINY], nproc=2)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "process 1 of 2 (gloo)" in result.stderr
    assert result.stderr.count("finished at step 4") == 1  # process 0 reports for both
    state = load_checkpoint(latest_checkpoint(out))
    assert state["step"] == 4 and state["images_seen"] == 4 * 4 * 2 * 2  # steps x batch x n_critic x processes
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step-000000002.png", "step-000000004.png"]

    resumed = run(["train", "--out", str(out), "--resume", "--steps", "2", "--quiet"])  # two more
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    state = load_checkpoint(latest_checkpoint(out))
    assert state["step"] == 6 and state["images_seen"] == 64 + 2 * 4 * 2
    assert all(torch.isfinite(v).all() for v in state["models"]["G"].values() if v.is_floating_point())


def test_averaged_gradients_keep_processes_in_step(tmp_path):
    """Each process sees other data, yet the weights stay identical: gradients are averaged."""
    script = tmp_path / "check.py"
    script.write_text(
        "import sys, torch, torch.distributed as dist\n"
        "from trainers.distributed import join_from_env\n"
        "g = join_from_env('cpu')\n"
        "torch.manual_seed(0)\n"
        "net = torch.nn.Linear(3, 2)\n"
        "x = torch.randn(5, 3) * (g.rank + 1)\n"
        "net(x).square().sum().backward()\n"
        "g.average_gradients(net)\n"
        "torch.optim.SGD(net.parameters(), lr=0.1).step()\n"
        "w = net.weight.detach().clone()\n"
        "others = [torch.zeros_like(w) for _ in range(g.world_size)]\n"
        "dist.all_gather(others, w)\n"
        "assert all(torch.equal(o, w) for o in others), others\n"
        "g.close()\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]


class FakeGroup:
    """What first_on_each_machine asks of a process group, with the other processes' answer to `any`."""

    def __init__(self, local_rank, others_failed=False):
        self.local_rank, self.others_failed, self.calls = local_rank, others_failed, []

    def any_patiently(self, flag):
        self.calls.append(("any", flag))
        return [flag or self.others_failed]


def test_one_process_per_machine_reads_the_images_first_and_the_others_after_it():
    import pytest

    from trainers.distributed import PeerFailed, first_on_each_machine

    first, other = FakeGroup(0), FakeGroup(1)
    assert first_on_each_machine(first, lambda: first.calls.append("load") or 7) == 7
    assert first_on_each_machine(other, lambda: other.calls.append("load") or 7) == 7
    assert first.calls == ["load", ("any", False)]  # it reads (and caches), then lets the others go
    assert other.calls == [("any", False), "load"]  # they wait for it, then read its cache
    assert first_on_each_machine(None, lambda: 3) == 3  # one process: nothing to wait for

    failing = FakeGroup(0)
    with pytest.raises(ValueError):  # its own error, after telling the others
        first_on_each_machine(failing, lambda: (_ for _ in ()).throw(ValueError("no usable image")))
    assert failing.calls == [("any", True)]
    waiting = FakeGroup(1, others_failed=True)
    with pytest.raises(PeerFailed):  # they do not read at all
        first_on_each_machine(waiting, lambda: waiting.calls.append("load"))
    assert waiting.calls == [("any", False)]


def test_two_processes_given_no_images_both_stop_and_one_says_why(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run(["train", str(tmp_path / "empty"), "--out", str(tmp_path / "run"), *TINY], nproc=2)
    assert result.returncode != 0
    assert result.stderr.count("error: no usable image in") == 1, result.stderr[-3000:]


def test_more_processes_than_training_images_is_a_clear_error(tmp_path):
    data = faces_folder(tmp_path, n=1, size=32)
    result = run(["train", str(data), "--out", str(tmp_path / "run"), *TINY], nproc=2)
    assert result.returncode != 0
    assert result.stderr.count("error: 2 processes need at least 2 training images, one each; there is 1") == 1, \
        result.stderr[-3000:]


FULL_DISK = """
import sys
import trainers.loop as loop
real = loop.save_checkpoint
def full(run_dir, state, step, **kw):
    if step >= 4:
        raise OSError(28, "No space left on device")
    return real(run_dir, state, step, **kw)
loop.save_checkpoint = full
from trainers.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_full_disk_stops_a_run_of_several_processes_and_loses_nothing_written(tmp_path):
    """One process cannot pause while the others wait for it at the next step: the run stops, says why, once."""
    data = faces_folder(tmp_path, n=16, size=32)
    script = tmp_path / "full_disk.py"
    script.write_text(FULL_DISK)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             str(script), "train", str(data), "--out", str(tmp_path / "run"), "--steps", "40",
                             "--checkpoint-every", "2", *TINY], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0
    assert result.stderr.count("could not write the checkpoint for step 4: No space left on device. A run of several "
                               "processes cannot pause for it") == 1, result.stderr[-3000:]
    assert "but its checkpoint could not be written (No space left on device)" in result.stderr
    assert latest_checkpoint(tmp_path / "run").name == "step-000000002.pt"
    assert load_checkpoint(latest_checkpoint(tmp_path / "run"))["step"] == 2
