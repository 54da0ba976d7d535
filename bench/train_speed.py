"""Training speed of every family, side by side with the classic pipeline, in one process.

    python bench/train_speed.py [--data FOLDER] [--device cuda] [--steps 50]
    python bench/train_speed.py --quick          # CPU, small sizes: checks that everything runs
    python bench/train_speed.py --device cuda --variants all   # each speed technique on and off

The classic pipeline is the assignment's: the sample DCGAN, a DataLoader with per-image PIL transforms and
2 workers, eager execution, batch 64, losses read back every step. The studio's path keeps the dataset as a
uint8 tensor on the device and reads losses back every `log_every` steps. Prints images per second, the
ratio to the classic pipeline, and seconds per 71,314-image epoch (the motivating dataset's size).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from bench.data_speed import ClassicFolder  # noqa: E402
from trainers import losses  # noqa: E402
from trainers.config import TrainConfig  # noqa: E402
from trainers.data import TensorBatches, load_folder  # noqa: E402
from trainers.demo_faces import write_demo_folder  # noqa: E402
from trainers.device import prepare_for_training, resolve_device  # noqa: E402
from trainers.families import build_recipe  # noqa: E402
from trainers.nets.dcgan import SampleDiscriminator, SampleGenerator  # noqa: E402

EPOCH = 71_314


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def classic_step(G, D, opt_g, opt_d, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The classic loop's step: one generator pass, D on its detached output, then G through D's new weights."""
    fake = G(torch.randn(len(real), 100, device=real.device))
    d_loss = losses.bce_discriminator(D(real), D(fake.detach()))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = losses.bce_generator(D(fake))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss, g_loss


def classic_speed(folder: str, device: torch.device, resolution: int, batch: int, steps: int, warmup: int,
                  widths: dict) -> float:
    """img/s of the classic loop: DataLoader + PIL, sample DCGAN, BCE, Adam, .item() every step."""
    G = SampleGenerator(100, resolution, widths.get("g_width", 512)).to(device)
    D = SampleDiscriminator(resolution, widths.get("d_width", 64)).to(device)
    opt_g = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-4, betas=(0.5, 0.999))
    loader = DataLoader(ClassicFolder(folder, resolution), batch_size=batch, shuffle=True, num_workers=2,
                        drop_last=True, persistent_workers=True)
    done, start = 0, None
    while done < warmup + steps:
        for real in loader:
            if done == warmup:
                sync(device)
                start = time.perf_counter()
            d_loss, g_loss = classic_step(G, D, opt_g, opt_d, real.to(device))
            d_loss.item(), g_loss.item()  # the classic loop prints its losses every step
            done += 1
            if done >= warmup + steps:
                break
    sync(device)
    return steps * batch / (time.perf_counter() - start)


TECHNIQUES = {
    "eager": "the engine's default: eager steps, foreach optimizers, losses read back every 20 steps",
    "graphs": "whole steps captured as CUDA graphs and replayed (train --cuda-graphs)",
    "read1": "losses read back after every step (a host synchronisation per step, like the classic loop)",
    "fused": "fused Adam kernels instead of foreach ones (RMSprop has none: unchanged)",
    "channels_last": "networks and images in channels_last memory layout (train --channels-last)",
    "bf16": "bf16 autocast around the step (train --precision bf16)",
    "fp32": "TF32 matrix units off (full fp32 matmuls and convolutions)",
    "fused_modconv": "StyleGAN2 only: modulation in grouped convolutions (train --fused-modconv)",
    "hostdata": "the dataset left in host memory, each batch gathered there and copied over (what a dataset "
                "over a third of the GPU's free memory gets)",
}
# --quick: networks small enough for a few CPU steps of each family (the other benches' --quick too).
QUICK_NETWORKS = {"dcgan": dict(g_width=32, d_width=8), "dcgan-tutorial": dict(g_width=8, d_width=8),
                  "wgan-clip": dict(g_width=32, d_width=8), "wgan-gp": dict(g_width=32, d_width=8),
                  "stylegan2": dict(preset="tiny", z_dim=32)}
CUDA_VARIANTS = "eager,graphs"
ALL_CUDA_VARIANTS = ("eager+read1,eager,eager+fused,eager+bf16,graphs,graphs+fused,graphs+channels_last,graphs+bf16,"
                     "graphs+bf16+channels_last,graphs+fp32,eager+fused_modconv,graphs+fused_modconv,eager+hostdata")


def studio_speed(family: str, images, device: torch.device, resolution: int, batch: int, steps: int, warmup: int,
                 overrides: dict, variant: str = "eager", log_every: int = 20) -> float:
    """img/s of the studio's recipe on a device-resident uint8 dataset, stats summed on the device each step
    and read back every `log_every` steps as the training loop does; `variant` is techniques joined by +."""
    techniques = set(variant.split("+"))
    unknown = techniques - set(TECHNIQUES)
    if unknown:
        raise SystemExit(f"unknown technique(s) {', '.join(sorted(unknown))}; choose from {', '.join(TECHNIQUES)}")
    if "read1" in techniques:
        log_every = 1
    speed_options = dict(channels_last="channels_last" in techniques,
                         precision="bf16" if "bf16" in techniques else "fp32")
    if "fused_modconv" in techniques:
        speed_options["fused_modconv"] = True
    config = TrainConfig.for_family(family, resolution=resolution, batch=batch, device=str(device), **overrides,
                                    **speed_options)
    torch.manual_seed(0)
    recipe = build_recipe(config, device)
    batches = TensorBatches(images, device, seed=0, on_device="hostdata" not in techniques)
    if "fused" in techniques:  # not an engine option: measured here only
        for opt in recipe.optimizers.values():
            for group in opt.param_groups:
                if "fused" in group and isinstance(opt, torch.optim.Adam):
                    group["foreach"], group["fused"] = False, True
    if "graphs" in techniques:
        recipe.use_graphs(True)
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    if "fp32" in techniques:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        sums: dict[str, torch.Tensor] = {}
        for i in range(warmup + steps):
            if i == warmup:
                sync(device)
                start = time.perf_counter()
            stats = recipe.step(batches, i)
            for name, value in stats.items():
                sums[name] = sums[name] + value if name in sums else value.clone()
            if (i + 1) % log_every == 0:
                values = {k: float(v) for k, v in sums.items()}  # the loop's periodic read-back
                if not all(map(math.isfinite, values.values())):
                    raise SystemExit(f"{family} {variant}: losses became {values} at step {i + 1}")
                sums = {}
        sync(device)
        elapsed = time.perf_counter() - start
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    if recipe.notices:
        print(f"  note ({family}, {variant}): " + "; ".join(recipe.notices))
    return steps * recipe.images_per_step / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="image folder (default: 2,000 demo faces at 96x96 in a temporary folder)")
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=50, help="measured steps per configuration")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--families", default="dcgan,dcgan-tutorial,wgan-clip,wgan-gp,stylegan2")
    p.add_argument("--batches", default="64,256", help="batch sizes of the DCGAN and WGAN families (StyleGAN2: 32)")
    p.add_argument("--variants", help="comma list of techniques joined by + (default on CUDA: "
                   f"{CUDA_VARIANTS}; on the CPU: eager; 'all' = {ALL_CUDA_VARIANTS}). Techniques: "
                   + "; ".join(f"{k}: {v}" for k, v in TECHNIQUES.items()))
    p.add_argument("--quick", action="store_true", help="CPU, 32x32, small networks and batches, 2 steps")
    args = p.parse_args()

    if args.quick:
        device = torch.device("cpu")
        resolution, steps, warmup = 32, 3, 2
        dc_batches, sg_batch = (8, 16), 4
        widths = QUICK_NETWORKS
        classic_widths, classic_batch = widths["dcgan"], 8
    else:
        device = resolve_device(args.device)
        resolution, steps, warmup = 64, args.steps, args.warmup
        dc_batches, sg_batch = tuple(int(b) for b in args.batches.split(",")), 32
        widths = {}
        classic_widths, classic_batch = {}, 64

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("GAN_STUDIO_CACHE", os.path.join(tmp, "cache"))
        folder = args.data
        if folder is None:
            folder = os.path.join(tmp, "faces")
            write_demo_folder(folder, 200 if args.quick else 2000, size=96, fmt="jpg")
        images = load_folder(folder, resolution).images
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        print(f"device: {name}; torch {torch.__version__}; {len(images):,} images at {resolution}px; "
              f"{steps} measured steps after {warmup} warm-up")
        classic = classic_speed(folder, device, resolution, classic_batch, steps, warmup, classic_widths)
        print(f"{'classic pipeline (sample dcgan, DataLoader + PIL)':<52} batch {classic_batch:>4}  "
              f"{classic:>10,.0f} img/s  {'1.0x':>7}  {EPOCH / classic:>8.1f} s/epoch")
        prepare_for_training(device)  # the training loop's settings (the classic loop ran with torch's defaults)
        variants = args.variants or (CUDA_VARIANTS if device.type == "cuda" else "eager")
        if variants == "all":
            variants = ALL_CUDA_VARIANTS
        for family in args.families.split(","):
            for batch in (sg_batch,) if family == "stylegan2" else dc_batches:
                for variant in variants.split(","):
                    if "fused_modconv" in variant.split("+") and family != "stylegan2":
                        continue
                    if "graphs" in variant.split("+") and device.type != "cuda":
                        print(f"{family} ({variant}): skipped, CUDA graphs need a CUDA device")
                        continue
                    # StyleGAN2's rarest kind of step (R1 and path length) comes every 16th step: warm up past
                    # its capture so that the measured steps replay graphs only.
                    warm = max(warmup, 64) if family == "stylegan2" and "graphs" in variant else warmup
                    speed = studio_speed(family, images, device, resolution, batch, steps, warm,
                                         widths.get(family, {}), variant)
                    label = f"{family} ({variant})"
                    print(f"{label:<52} batch {batch:>4}  {speed:>10,.0f} img/s  {speed / classic:>6.1f}x  "
                          f"{EPOCH / speed:>8.1f} s/epoch", flush=True)


if __name__ == "__main__":
    main()
