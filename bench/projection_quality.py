"""How close `project` (trainers/projection.py) comes to pictures, and how long it takes: for each model, the
distance (explore.DISTANCE_SCALE) of the closest seed's face and of the face found, for pictures the model never
trained on and for its own faces (which it can make exactly), with the seconds per picture.

    python bench/projection_quality.py MODEL [MODEL ...] [--pictures DATA [--first]] [--n 8] [--steps 200] [--quick]

DATA: a folder, zip or tar of pictures: its last --n files (the ones a `--holdout` run never saw), or with --first
its first --n (ones it trained on); default: procedural demo faces the demo models never saw (seeds from 1,000,000
on). --quick: the demo models, 2 pictures, 20 steps (a test runs it)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainers.projection import STEPS, find_face  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", metavar="MODEL")
    p.add_argument("--pictures", metavar="DATA")
    p.add_argument("--first", action="store_true", help="DATA's first --n files instead of its last")
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    from trainers.data import load_folder
    from trainers.demo_faces import demo_faces
    from trainers.inference import open_model

    if args.quick:
        args.n, args.steps = 2, 20
    models = args.models or [str(ROOT / "resources" / "demo" / f) for f in ("dcgan-tutorial.onnx", "stylegan2.onnx")]
    print(f"{'model':40s} {'pictures':>10s} {'seed':>7s} {'found':>7s} {'s each':>7s}")  # mean distances
    for path in models:
        model = open_model(path, provider=args.device)
        r = model.info.resolution
        if args.pictures:
            images = load_folder(args.pictures, r).images
            real = images[: args.n] if args.first else images[-args.n :]
            label = "first" if args.first else "last"
        else:
            real, label = demo_faces(args.n, size=r, first_seed=1_000_000), "demo faces"
        own = model.generate(list(range(5_000, 5_000 + args.n)))
        for name, pictures in ((label, real), ("its own", own)):
            start = time.perf_counter()
            found = [find_face(model, picture, steps=args.steps) for picture in pictures]
            each = (time.perf_counter() - start) / len(pictures)
            print(f"{model.info.label[-40:]:40s} {name:>10s} {np.mean([f.seed_distance for f in found]):7.3f} "
                  f"{np.mean([f.distance for f in found]):7.3f} {each:7.1f}", flush=True)


if __name__ == "__main__":
    main()
