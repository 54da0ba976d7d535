"""Floating-point work of one training step of each family: the floor under any speed figure.

    python bench/step_flops.py                 # 64x64, batch 64 (StyleGAN2: 32), the families' networks
    python bench/step_flops.py --quick         # 32x32, tiny networks: checks that it runs

Counts the FLOPs of every operator that torch's FLOP counter knows (convolutions, matrix products,
including backward and double backward) over real steps on the CPU; StyleGAN2 is averaged over 16 steps,
so its lazy R1 and path-length steps are amortised. Prints GFLOP per step and per real image, the TFLOP/s
the target rate would need, and operator calls per step (views excluded): about one kernel launch each on a
GPU, so in an eager loop a step costs at least that many times the few microseconds of a launch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils.flop_counter import flop_registry  # noqa: E402

from bench.train_speed import QUICK_NETWORKS  # noqa: E402
from trainers.config import TrainConfig  # noqa: E402
from trainers.data import TensorBatches  # noqa: E402
from trainers.demo_faces import demo_faces  # noqa: E402
from trainers.families import build_recipe  # noqa: E402

# Operators that only make a view or read metadata: no kernel on a GPU.
VIEWS = {getattr(torch.ops.aten, name) for name in ("view", "_unsafe_view", "t", "transpose", "permute", "expand",
                                                    "slice", "select", "unsqueeze", "squeeze", "as_strided",
                                                    "alias", "detach", "split", "split_with_sizes", "chunk",
                                                    "unbind", "reshape", "flatten", "sym_size", "is_same_size")
         if hasattr(torch.ops.aten, name)}
TARGETS = {"dcgan": 23_000, "wgan-gp": 11_600, "stylegan2": 1_300}  # img/s on an H100/H200 (issues 3 and 8)


class FlopCount(TorchDispatchMode):
    """Counts FLOPs at the dispatcher, so that autograd.grad(create_graph=True) is counted too (torch's own
    FlopCounterMode refuses the gradient penalty's and R1's double backward)."""

    def __init__(self):
        super().__init__()
        self.total = 0
        self.ops = 0  # operator calls below autograd: about one kernel launch each on a GPU

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func._overloadpacket not in VIEWS:
            self.ops += 1
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


def step_flops(family: str, resolution: int, batch: int, overrides: dict) -> tuple[float, float, int]:
    """-> (FLOPs per step, operator calls per step, real images per step)."""
    config = TrainConfig.for_family(family, resolution=resolution, batch=batch, device="cpu", **overrides)
    torch.manual_seed(0)
    recipe = build_recipe(config, "cpu")
    batches = TensorBatches(demo_faces(max(256, 2 * batch), resolution), "cpu", seed=0)
    recipe.step(batches, 1)  # optimizer state exists before counting
    steps = range(16, 32) if family == "stylegan2" else range(2, 3)
    counter = FlopCount()
    with counter:
        for step in steps:
            recipe.step(batches, step)
    return counter.total / len(steps), counter.ops / len(steps), recipe.images_per_step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--families", default="dcgan,dcgan-tutorial,wgan-clip,wgan-gp,stylegan2")
    p.add_argument("--quick", action="store_true", help="32x32, tiny networks, batch 8")
    args = p.parse_args()
    print(f"{'family':<16} {'batch':>5} {'GFLOP/step':>11} {'GFLOP/image':>12} {'ops/step':>9}  at the target rate")
    for family in args.families.split(","):
        if args.quick:
            resolution, batch = 32, 8
            overrides = QUICK_NETWORKS[family]
        else:
            resolution, batch, overrides = 64, 32 if family == "stylegan2" else 64, {}
        flops, ops, images = step_flops(family, resolution, batch, overrides)
        per_image = flops / images
        target = TARGETS.get(family)
        need = f"{target:,} img/s = {per_image * target / 1e12:.0f} TFLOP/s" if target and not args.quick else ""
        print(f"{family:<16} {batch:>5} {flops / 1e9:>11.2f} {per_image / 1e9:>12.3f} {ops:>9,.0f}  {need}",
              flush=True)


if __name__ == "__main__":
    main()
