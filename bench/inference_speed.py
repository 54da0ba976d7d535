"""Generator latency: torch eager against onnxruntime, at batch 1, 16 and 64, for dcgan and stylegan2.

    python bench/inference_speed.py [--families dcgan,stylegan2] [--repeats 20] [--preset small]

Networks are freshly initialised at each family's default size (64x64): speed does not depend on training.
On a machine with a working onnxruntime CUDA provider it also measures that; otherwise it measures torch's
CUDA path when there is a GPU, and says so.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from trainers.config import TrainConfig  # noqa: E402
from trainers.export import export_generator  # noqa: E402
from trainers.families import build_recipe  # noqa: E402
from trainers.inference import OnnxGenerator  # noqa: E402


def timed(fn, repeats: int) -> float:
    """Median seconds per call after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--families", default="dcgan,stylegan2")
    p.add_argument("--batches", default="1,16,64")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--preset", default="small", help="stylegan2 capacity preset")
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    batches = [int(b) for b in args.batches.split(",")]
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            config = TrainConfig.for_family(family, device="cpu", preset=args.preset)
            torch.manual_seed(0)
            recipe = build_recipe(config, "cpu")
            path = Path(tmp) / f"{family}.onnx"
            export_generator(recipe, path, log=lambda m: None)
            engine = OnnxGenerator(path, provider="auto")
            g = recipe.sampling_generator().eval()
            label = family + (f" ({args.preset})" if family == "stylegan2" else "")
            print(f"\n{label}, 64x64: onnxruntime on {engine.info.provider}")
            print(f"{'batch':>5} {'torch ms':>10} {'ort ms':>10} {'torch img/s':>12} {'ort img/s':>10} {'ort/torch':>9}")
            for n in batches:
                z = np.random.default_rng(n).standard_normal((n, config.z_dim)).astype(np.float32)
                zt = torch.from_numpy(z)
                with torch.inference_mode():
                    if family == "stylegan2":
                        t_torch = timed(lambda: g.synthesis(g.mapping(zt), noise_mode="const", fused=False), args.repeats)
                    else:
                        t_torch = timed(lambda: g(zt), args.repeats)
                t_ort = timed(lambda: engine.generate(z=z), args.repeats)
                print(f"{n:>5} {t_torch * 1e3:>10.2f} {t_ort * 1e3:>10.2f} {n / t_torch:>12,.0f} {n / t_ort:>10,.0f} "
                      f"{t_torch / t_ort:>8.2f}x")
            if torch.cuda.is_available() and engine.info.provider != "CUDAExecutionProvider":
                gc = g.to("cuda")
                print("  onnxruntime has no working CUDA provider here; torch on CUDA instead:")
                for n in batches:
                    zc = torch.randn(n, config.z_dim, device="cuda")

                    def run():
                        with torch.inference_mode():
                            out = gc.synthesis(gc.mapping(zc), noise_mode="const") if family == "stylegan2" else gc(zc)
                        torch.cuda.synchronize()
                        return out

                    t = timed(run, args.repeats)
                    print(f"{n:>5} torch cuda {t * 1e3:8.2f} ms {n / t:>10,.0f} img/s")
                g.to("cpu")


if __name__ == "__main__":
    main()
