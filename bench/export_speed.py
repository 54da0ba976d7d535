"""GIF export: the studio's writer against one median-cut palette per enlarged frame (Pillow's own way).

    python bench/export_speed.py [--run RUN_DIR] [--scale 2] [--walk-scale 4]
    python bench/export_speed.py --quick       # small, to check that it runs

Two animations: a training timelapse (RUN_DIR's snapshot grids, or 17 grids of 8x8 procedural demo faces at
32 px, the size of a 32 px run's snapshots) and an interpolation walk (60 faces of the demo StyleGAN2 model).
Prints seconds and the mean error of the written frames against the frames, in levels of 255.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from trainers.animation import _scaled, write_gif  # noqa: E402
from trainers.demo_faces import demo_faces  # noqa: E402
from trainers.images import make_grid  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def per_frame_palettes(path: str, frames: np.ndarray, seconds: float, scale: int) -> None:
    """The writer before: RGB frames, enlarged, each given its palette by Pillow's median cut as it saves."""
    images = [Image.fromarray(_scaled(f, scale)) for f in frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(20, round(1000 * seconds / len(images))), loop=0, disposal=1, optimize=False)


def mean_error(path: str, frames: np.ndarray, scale: int) -> float:
    errors = []
    with Image.open(path) as gif:
        for i in range(gif.n_frames):
            gif.seek(i)
            errors.append(np.abs(np.asarray(gif.convert("RGB"), dtype=float) - _scaled(frames[i], scale)).mean())
    return float(np.mean(errors))


def timelapse(run: str | None, count: int) -> tuple[str, np.ndarray]:
    if run:
        from trainers.timelapse import timelapse_frames

        frames = timelapse_frames(run)[0]
        return f"timelapse of {run}", frames
    frames = np.stack([make_grid(demo_faces(64, 32, first_seed=64 * i), columns=8) for i in range(count)])
    return "timelapse of demo-face grids", frames


def walk(count: int) -> tuple[str, np.ndarray]:
    model_path = ROOT / "resources" / "demo" / "stylegan2.onnx"
    if model_path.is_file():
        from trainers.explore import render_latents, walk_latents
        from trainers.inference import open_model

        model = open_model(str(model_path))
        space, latents = walk_latents(model, [3, 14, 27], count, "slerp in z", False, 1.0)
        return "walk of the demo StyleGAN2", render_latents(model, space, latents, 1.0).transpose(0, 2, 3, 1)
    return "walk of demo faces", demo_faces(count, 64).transpose(0, 2, 3, 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", help="a run folder whose snapshots make the timelapse (default: demo-face grids)")
    p.add_argument("--scale", type=int, default=2, help="the timelapse's scale (default 2)")
    p.add_argument("--walk-scale", type=int, default=4, help="the walk's scale (default 4, the studio's)")
    p.add_argument("--quick", action="store_true", help="4 grids and 8 walk frames")
    args = p.parse_args()

    cases = [(*timelapse(args.run, 4 if args.quick else 17), args.scale), (*walk(8 if args.quick else 60),
                                                                           args.walk_scale)]
    print(f"{'animation':<44} {'frames':>6}  {'size':>9}  {'scale':>5}  {'writer':<22} {'seconds':>8}  {'error':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, frames, scale in cases:
            size = f"{frames.shape[2]}x{frames.shape[1]}"
            for writer, fn in (("a palette per frame", per_frame_palettes), ("the studio's", write_gif)):
                path = os.path.join(tmp, "out.gif")
                started = time.perf_counter()
                fn(path, frames, 3.0, scale=scale)
                seconds = time.perf_counter() - started
                print(f"{name:<44} {len(frames):>6}  {size:>9}  {scale:>5}  {writer:<22} {seconds:>8.2f}  "
                      f"{mean_error(path, frames, scale):>6.2f}", flush=True)


if __name__ == "__main__":
    main()
