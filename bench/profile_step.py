"""What limits a family's training step: a torch.profiler trace of a few steps, summarised.

    python bench/profile_step.py --family dcgan --batch 64 [--device cuda] [--variant graphs] [--steps 20]
    python bench/profile_step.py --quick        # CPU, tiny networks: checks that it runs

Prints the wall time of a step, the time the GPU spent in kernels during it (their sum; on the CPU, the
time in operators), kernel launches per step, and the operators that took the most time. A GPU busy far
less than the wall time means the step waits on Python and kernel launches, not on arithmetic.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from bench.train_speed import QUICK_NETWORKS  # noqa: E402
from trainers.config import TrainConfig  # noqa: E402
from trainers.data import TensorBatches  # noqa: E402
from trainers.demo_faces import demo_faces  # noqa: E402
from trainers.device import prepare_for_training, resolve_device  # noqa: E402
from trainers.families import build_recipe  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", default="dcgan")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--variant", default="eager", choices=("eager", "graphs"))
    p.add_argument("--steps", type=int, default=16, help="profiled steps (after warm-up)")
    p.add_argument("--top", type=int, default=12, help="operators to list")
    p.add_argument("--quick", action="store_true", help="CPU, 32x32, tiny networks, 2 steps")
    args = p.parse_args()

    overrides: dict = {}
    if args.quick:
        device, args.resolution, args.steps, args.batch = torch.device("cpu"), 32, 2, 8
        overrides = QUICK_NETWORKS[args.family]
    else:
        device = resolve_device(args.device)
    prepare_for_training(device)
    config = TrainConfig.for_family(args.family, resolution=args.resolution, batch=args.batch,
                                    device=str(device), **overrides)
    torch.manual_seed(0)
    recipe = build_recipe(config, device)
    if args.variant == "graphs":
        recipe.use_graphs(True)
    images = demo_faces(512, args.resolution)
    batches = TensorBatches(images, device, seed=0)
    warmup = 64 if args.family == "stylegan2" else 8  # StyleGAN2: every kind of step captured first
    for i in range(warmup):
        recipe.step(batches, i)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        start = time.perf_counter()
        for i in range(warmup, warmup + args.steps):
            recipe.step(batches, i)
        if cuda:
            torch.cuda.synchronize(device)
        wall = (time.perf_counter() - start) / args.steps
    events = prof.key_averages()
    if cuda:
        kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        busy = sum(e.device_time_total for e in kernels) / 1e6 / args.steps if kernels else 0.0
        launches = len(kernels) / args.steps
        sort = "self_cuda_time_total" if hasattr(events[0], "self_cuda_time_total") else "self_device_time_total"
    else:
        busy = sum(e.self_cpu_time_total for e in events) / 1e6 / args.steps
        launches = sum(e.count for e in events if e.key.startswith("aten::")) / args.steps
        sort = "self_cpu_time_total"
    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    print(f"{args.family} ({args.variant}) batch {args.batch} at {args.resolution}px on {name}, "
          f"torch {torch.__version__}")
    print(f"  wall per step:          {wall * 1e3:8.2f} ms ({recipe.images_per_step / wall:,.0f} img/s)")
    print(f"  {'GPU kernels' if cuda else 'CPU operators'} per step:  {busy * 1e3:8.2f} ms "
          f"({busy / wall:.0%} of the wall time)")
    print(f"  {'kernel launches per step:' if cuda else 'aten calls (nested too):'} {launches:8.0f}")
    print(events.table(sort_by=sort, row_limit=args.top, max_name_column_width=48))


if __name__ == "__main__":
    main()
