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
