"""How long the copy checks take: Generate's *Nearest real faces* (a few faces against a dataset) and the
Dataset panel's *Find duplicates* (every image against every other), with their peak memory; and with --holdout N,
the check a `train --holdout N` run makes at its start (the last N images against the others: their copies are left
out of training).

    python bench/copies_speed.py [--data FOLDER] [--n 3000] [--faces 64] [--resolution 64] [--holdout N]

Without --data it uses N procedural demo faces. The faces looked up are the dataset's own first ones, so
each finds itself at distance 0: a check that the search is right as well as a timing.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainers.data import load_folder  # noqa: E402
from trainers.demo_faces import demo_faces  # noqa: E402
from trainers.explore import duplicate_pairs, nearest_images  # noqa: E402
from trainers.loop import _without_copies_of  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="image folder or zip (default: demo faces)")
    p.add_argument("--n", type=int, default=3000, help="demo faces when --data is not given")
    p.add_argument("--faces", type=int, default=64, help="faces looked up in the dataset (default 64)")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--holdout", type=int, default=0, help="also time the held-out images' copies check")
    args = p.parse_args()

    if args.data:
        with tempfile.TemporaryDirectory() as tmp:  # decoded afresh, not timed: this measures the search
            os.environ["GAN_STUDIO_CACHE"] = tmp
            images = load_folder(args.data, args.resolution).images
        what = args.data
    else:
        images = demo_faces(args.n, args.resolution)
        what = f"{args.n:,} demo faces"
    print(f"{len(images):,} images at {args.resolution}px ({what}), {os.cpu_count()} CPUs")

    faces = images[: args.faces]
    started = time.perf_counter()
    found, distances, _ = nearest_images(faces, images, k=5)
    seconds = time.perf_counter() - started
    right = int((distances[:, 0] < 1e-3).sum())
    print(f"nearest real faces: {len(faces)} faces against {len(images):,} images in {seconds:.2f} s "
          f"({right} of {len(faces)} found a pixel-for-pixel match first: themselves, or an exact copy)")

    started = time.perf_counter()
    pairs = duplicate_pairs(images)
    seconds = time.perf_counter() - started
    copies = len({j for _, j, _, _ in pairs})
    print(f"find duplicates: {len(images):,} images, every pair, in {seconds:.1f} s: {len(pairs):,} pairs, "
          f"{copies:,} copies")
    if 0 < args.holdout < len(images):
        cut = len(images) - args.holdout
        started = time.perf_counter()
        training, left_out = _without_copies_of(images[cut:], images[:cut])
        seconds = time.perf_counter() - started
        crossing = len({j for i, j, _, _ in pairs if i < cut <= j})
        print(f"held-out copies: the last {args.holdout:,} images against the {cut:,} before them in {seconds:.2f} s: "
              f"{left_out:,} training images left out, copies of {crossing:,} held-out ones; "
              f"{len(training):,} train")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(f"peak memory of this process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
