"""One epoch of data: the cached uint8 tensor against the classic per-item DataLoader + PIL pipeline.

    python bench/data_speed.py [--data FOLDER] [--n 3000] [--batch 64] [--resolution 64] [--zip]

Without --data it writes N procedural demo faces at 96x96 (the motivating crop size) to a temporary
folder. Prints the first decode, the cached reopen, one epoch each way, and the ratio. With --zip it also
packs the folder into a zip (stored, and deflated as most zip tools do), an uncompressed tar and a .tar.gz,
and times the first read of each.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tarfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402
from torchvision import transforms  # noqa: E402

from trainers.data import TensorBatches, load_folder, scan_folder  # noqa: E402
from trainers.demo_faces import write_demo_folder  # noqa: E402


class ClassicFolder(Dataset):
    """The classic sample code's pipeline: open each file with PIL per item, transform, normalise."""

    def __init__(self, folder: str, resolution: int):
        entries, _ = scan_folder(folder)
        self.paths = [os.path.join(folder, e.path) for e in entries]
        self.transform = transforms.Compose([
            transforms.Resize(resolution), transforms.CenterCrop(resolution), transforms.RandomHorizontalFlip(),
            transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return self.transform(Image.open(self.paths[i]).convert("RGB"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="image folder (default: demo faces written to a temporary folder)")
    p.add_argument("--n", type=int, default=3000, help="demo faces to write when --data is not given")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers for the classic pipeline")
    p.add_argument("--zip", action="store_true", help="also time the first read of the folder packed as zips and tars")
    args = p.parse_args()
    zipped = {}

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GAN_STUDIO_CACHE"] = os.path.join(tmp, "cache")
        folder = args.data
        if folder is None:
            folder = os.path.join(tmp, "faces")
            write_demo_folder(folder, args.n, size=96, fmt="jpg")

        t = time.perf_counter()
        images = load_folder(folder, args.resolution)
        first = time.perf_counter() - t
        t = time.perf_counter()
        images = load_folder(folder, args.resolution)
        reopen = time.perf_counter() - t
        n = len(images)

        batches = TensorBatches(images.images, "cpu", seed=0)
        t = time.perf_counter()
        for _ in range(n // args.batch):
            x = batches.next(args.batch)
        cached_epoch = time.perf_counter() - t

        loader = DataLoader(ClassicFolder(folder, args.resolution), batch_size=args.batch, shuffle=True,
                            num_workers=args.workers, drop_last=True, persistent_workers=False)
        t = time.perf_counter()
        for x in loader:
            pass
        classic_epoch = time.perf_counter() - t
        del x

        for name, method in (("stored", zipfile.ZIP_STORED), ("deflated", zipfile.ZIP_DEFLATED)) if args.zip else ():
            archive = os.path.join(tmp, f"faces-{name}.zip")
            with zipfile.ZipFile(archive, "w", method) as zf:
                for e in scan_folder(folder)[0]:
                    zf.write(os.path.join(folder, e.path), e.path)
            t = time.perf_counter()
            # a cache of its own: the two zips hold the same members, so they would share one entry
            assert len(load_folder(archive, args.resolution, cache_dir=os.path.join(tmp, f"cache-{name}"))) == n
            zipped[name] = time.perf_counter() - t
        # an uncompressed tar, read in place the same way, and a gzipped one, read in one pass
        for name, mode in (("tar", "w"), ("tar.gz", "w:gz")) if args.zip else ():
            archive = os.path.join(tmp, f"faces.{name}")
            with tarfile.open(archive, mode) as tar:
                for e in scan_folder(folder)[0]:
                    tar.add(os.path.join(folder, e.path), e.path)
            t = time.perf_counter()
            assert len(load_folder(archive, args.resolution, cache_dir=os.path.join(tmp, f"cache-{name}"))) == n
            zipped[name] = time.perf_counter() - t

    print(f"images: {n:,} at {args.resolution}px, batch {args.batch}, torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs")
    print(f"first read (decode + cache write): {first:8.2f} s")
    print(f"reopen from cache:                 {reopen:8.2f} s")
    for name, seconds in zipped.items():
        print(f"first read of a {name + (' zip:' if 'tar' not in name else ':'):13}     {seconds:8.2f} s")
    print(f"one epoch, cached tensor:          {cached_epoch:8.3f} s  ({n / cached_epoch:,.0f} img/s)")
    print(f"one epoch, DataLoader + PIL:       {classic_epoch:8.3f} s  ({n / classic_epoch:,.0f} img/s)")
    print(f"ratio (classic / cached):          {classic_epoch / cached_epoch:8.1f}x")


if __name__ == "__main__":
    main()
