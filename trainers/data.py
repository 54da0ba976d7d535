"""Image folders (or zip and tar archives of images) -> one uint8 [N, 3, R, R] array, with a report of skipped
files and an on-disk cache.

Scanning is recursive and safe against symlink loops and special files. A `.zip` or an uncompressed `.tar` is
read in place, member by member, never unpacked to disk. Large folders are decoded by a pool of worker
processes, one per core. The result is cached under the user's cache folder, keyed by the folder's file list,
sizes and modification times (an archive's member list, sizes and CRC-32s or times), so reopening a large
folder reads one file instead of decoding every image again.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import os
import tarfile
import time
import zipfile
from collections import Counter
import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from trainers import images as imgs

CACHE_VERSION = 1  # bump when decoding changes what pixels a file gives
CHUNK = 128  # files per unit of work
PARALLEL_MIN_FILES = 1024  # below this, starting worker processes costs more than it saves


class DatasetError(Exception):
    """A folder that cannot be trained on (missing, or without a usable image); the message says why."""


class ScanCancelled(Exception):
    """The caller's cancel() returned True while the folder was being read."""


@dataclass
class ScanReport:
    folder: str
    found: int = 0  # files with an image extension
    used: int = 0
    upscaled: list[str] = field(default_factory=list)  # smaller than the resolution: upscaled, kept
    rejected: dict[str, list[str]] = field(default_factory=dict)  # reason -> relative paths
    source_sizes: dict[str, int] = field(default_factory=dict)  # "WxH" -> count, most common first
    from_cache: bool = False
    seconds: float = 0.0

    @property
    def num_rejected(self) -> int:
        return sum(len(v) for v in self.rejected.values())

    def summary(self) -> str:
        """A few lines for a person: what was used, what was skipped and why."""
        lines = [f"{self.used:,} of {self.found:,} image files used from {self.folder}"
                 + (" (from cache)" if self.from_cache else "")]
        if self.upscaled:
            n = len(self.upscaled)
            lines.append(f"warning: {n:,} image{'s were' if n != 1 else ' was'} smaller than the resolution "
                         "and upscaled")
        if self.rejected:
            lines.append(f"skipped {self.num_rejected:,} files:")
            for reason, paths in sorted(self.rejected.items(), key=lambda kv: -len(kv[1])):
                lines.append(f"  {len(paths):,} {reason}")
        return "\n".join(lines)

    def details(self) -> str:
        """Every skipped file with its reason."""
        return "\n".join(f"{reason}: {path}" for reason, paths in sorted(self.rejected.items()) for path in paths)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("folder", "found", "used", "upscaled", "rejected", "source_sizes")}


@dataclass
class ImageSet:
    images: np.ndarray  # [N, 3, R, R] uint8
    paths: list[str]  # relative to the folder, one per image
    report: ScanReport

    @property
    def resolution(self) -> int:
        return int(self.images.shape[-1])

    def __len__(self) -> int:
        return int(self.images.shape[0])


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the scanned folder, with '/' separators (an archive's member name)
    size: int
    stamp: int  # what changes with the content: a file's modification time in ns, a member's CRC-32


ARCHIVE_SUFFIXES = (".zip", ".tar")
COMPRESSED_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst")


def is_archive(path: str | os.PathLike) -> bool:
    """Whether `path` is a zip or tar file to read images from (rather than a folder)."""
    return os.fspath(path).lower().endswith(ARCHIVE_SUFFIXES) and os.path.isfile(path)


def _not_a_folder(path: str | os.PathLike) -> str:
    if os.fspath(path).lower().endswith(COMPRESSED_TAR_SUFFIXES) and os.path.isfile(path):
        # each image would have to be unpacked from the start of the stream: no reading in place
        return (f"{path} is a compressed tar archive, which cannot be read in place: unpack it, or pack its "
                "images as a .zip or an uncompressed .tar")
    return f"{path} is not a folder (nor a .zip or .tar of images)"


def scan_folder(folder: str | os.PathLike, cancel: Callable[[], bool] | None = None,
                ) -> tuple[list[FileEntry], dict[str, list[str]]]:
    """Every file with an image extension under `folder` (recursively, following links to folders once).

    Returns the entries sorted by path and the files already rejected while listing (links that loop,
    broken links, special files). Files without an image extension are ignored silently.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{folder} does not exist" if not root.exists() else _not_a_folder(folder))
    entries: list[FileEntry] = []
    rejected: dict[str, list[str]] = {}
    seen_dirs: set[tuple[int, int]] = set()

    def walk(directory: str, rel: str) -> None:
        try:
            st = os.stat(directory)
        except OSError:
            rejected.setdefault(imgs.UNREADABLE, []).append(rel or ".")
            return
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:  # a link back to a folder already read
            rejected.setdefault(imgs.SYMLINK_LOOP, []).append(rel)
            return
        seen_dirs.add(key)
        try:
            with os.scandir(directory) as it:
                children = sorted(it, key=lambda e: e.name)
        except OSError:
            rejected.setdefault(imgs.UNREADABLE, []).append(rel or ".")
            return
        for child in children:
            if cancel is not None and cancel():
                raise ScanCancelled()
            child_rel = f"{rel}/{child.name}" if rel else child.name
            try:
                is_dir = child.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                walk(child.path, child_rel)
                continue
            if not imgs.is_image_name(child.name):
                continue
            try:
                cst = child.stat(follow_symlinks=True)
            except OSError as exc:
                reason = {errno.ELOOP: imgs.SYMLINK_LOOP, errno.ENOENT: imgs.BROKEN_LINK}.get(exc.errno, imgs.UNREADABLE)
                rejected.setdefault(reason, []).append(child_rel)
                continue
            entries.append(FileEntry(child_rel, cst.st_size, cst.st_mtime_ns))

    walk(str(root), "")
    return entries, rejected


def scan_archive(archive: str | os.PathLike) -> list[FileEntry]:
    """Every member with an image extension in a zip or tar archive, in the order scan_folder gives an unpacked
    copy.

    macOS's `__MACOSX/` resource forks and `._` AppleDouble files are left out (they carry image names but hold
    no image).
    """
    if os.fspath(archive).lower().endswith(".tar"):
        try:
            tar = imgs.TarArchive(archive)
        except (tarfile.TarError, OSError) as exc:
            raise DatasetError(f"{archive} is not a readable uncompressed tar archive ({exc}); a compressed one "
                               "cannot be read in place: unpack it, or pack its images as a .zip") from None
        with contextlib.closing(tar):
            found = [FileEntry(m.name, m.size, int(m.mtime)) for m in tar.members.values()]
    else:
        try:
            with zipfile.ZipFile(archive) as zf:
                found = [FileEntry(i.filename, i.file_size, i.CRC) for i in zf.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError) as exc:
            raise DatasetError(f"{archive} is not a readable zip archive ({exc})") from None
    members = {e.path: e for e in found if imgs.is_image_name(e.path) and not e.path.startswith("__MACOSX/")
               and not e.path.rpartition("/")[2].startswith("._")}
    # component by component, as a folder walk orders them: the held-out files of --holdout are the same
    return sorted(members.values(), key=lambda e: e.path.split("/"))


def cache_key(entries: list[FileEntry], resolution: int, max_pixels: int, archive: str = "") -> str:
    """archive: "" for a folder, else the archive's kind ("zip", "tar")."""
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_VERSION, resolution, max_pixels] + ([archive] if archive else [])).encode())
    for e in entries:
        h.update(f"{e.path}\0{e.size}\0{e.stamp}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:32]


def default_cache_dir() -> Path:
    if os.environ.get("GAN_STUDIO_CACHE"):
        return Path(os.environ["GAN_STUDIO_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gan-studio" / "datasets"


def load_folder(
    folder: str | os.PathLike,
    resolution: int,
    *,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    max_pixels: int = imgs.DEFAULT_MAX_PIXELS,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> ImageSet:
    """Read every usable image under `folder` (or in a `.zip` or `.tar` archive) as [N, 3, resolution, resolution]
    uint8.

    progress(done, total) is called as files are decoded; cancel() is polled and raises ScanCancelled.
    Raises DatasetError when the folder holds no usable image.
    """
    started = time.perf_counter()
    folder = os.path.abspath(os.fspath(folder))
    archive = is_archive(folder)
    entries, listing_rejects = (scan_archive(folder), {}) if archive else scan_folder(folder, cancel)
    key = cache_key(entries, resolution, max_pixels, Path(folder).suffix.lower().lstrip(".") if archive else "")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if use_cache:
        cached = _read_cache(cache, key, folder)
        if cached is not None:
            cached.report.seconds = time.perf_counter() - started
            if progress:
                progress(len(entries), len(entries))
            return cached

    report = ScanReport(folder=folder, found=len(entries) + sum(map(len, listing_rejects.values())))
    for reason, paths in listing_rejects.items():
        report.rejected.setdefault(reason, []).extend(paths)
    out = np.empty((len(entries), 3, resolution, resolution), np.uint8)
    ok = np.zeros(len(entries), bool)
    sizes: Counter[str] = Counter()
    names = [e.path for e in entries] if archive else [os.path.join(folder, e.path) for e in entries]
    try:
        for i, result in _decode_all(names, resolution, max_pixels, workers, progress, cancel,
                                     folder if archive else None):
            if isinstance(result, imgs.RejectedImage):
                report.rejected.setdefault(result.reason, []).append(entries[i].path)
                continue
            out[i] = result.pixels
            ok[i] = True
            sizes[f"{result.source_size[0]}x{result.source_size[1]}"] += 1
            if result.upscaled:
                report.upscaled.append(entries[i].path)
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        if not archive:
            raise
        # the archive went away or was replaced while it was read (a file is only ever rejected, one by one)
        raise DatasetError(f"{folder} could not be read to the end ({exc})") from None

    for rejected in report.rejected.values():
        rejected.sort()
    report.upscaled.sort()
    report.used = int(ok.sum())
    report.source_sizes = dict(sizes.most_common())
    if report.used == 0:
        raise DatasetError(f"no usable image in {folder}" + (f"\n{report.summary()}" if report.found else
                                                              " (looked for .jpg .jpeg .png .webp .bmp .gif)"))
    images = out[ok] if not ok.all() else out
    paths = [e.path for e, good in zip(entries, ok) if good]
    result = ImageSet(images=images, paths=paths, report=report)
    if use_cache:
        _write_cache(cache, key, result)
    report.seconds = time.perf_counter() - started
    return result


def _decode_all(paths: list[str], resolution: int, max_pixels: int, workers: int | None,
                progress: Callable[[int, int], None] | None, cancel: Callable[[], bool] | None,
                archive: str | None = None) -> Iterator[tuple[int, imgs.Decoded | imgs.RejectedImage]]:
    """Decode every path (member names when `archive` is a zip's or tar's path), yielding (index, result). Large
    folders use a pool of processes: PIL's Python-side work per file outweighs the decoding itself for small
    images, so threads would mostly wait on the GIL."""
    total = len(paths)
    workers = workers or os.cpu_count() or 1
    finished_chunks: set[int] = set()
    done = 0

    def here() -> Iterator[tuple[int, imgs.Decoded | imgs.RejectedImage]]:
        """The chunks not decoded yet, in this process."""
        nonlocal done
        with contextlib.ExitStack() as stack:
            if archive is None:
                decode = functools.partial(imgs.decode_files, resolution=resolution, max_pixels=max_pixels)
            else:
                opened = imgs.open_archive(archive)
                stack.callback(opened.close)
                decode = functools.partial(imgs.decode_members, opened, resolution=resolution,
                                           max_pixels=max_pixels)
            for start in range(0, total, CHUNK):
                if start in finished_chunks:
                    continue
                if cancel is not None and cancel():
                    raise ScanCancelled()
                results = decode(paths[start : start + CHUNK])
                for offset, result in enumerate(results):
                    yield start + offset, result
                done += len(results)
                if progress:
                    progress(done, total)

    if workers == 1 or total < PARALLEL_MIN_FILES:
        yield from here()
        return
    # A worker is handed the archive's path, not an open file: it opens the archive once for all its chunks.
    task = (functools.partial(imgs.decode_files, resolution=resolution, max_pixels=max_pixels) if archive is None
            else functools.partial(imgs.decode_members, archive, resolution=resolution, max_pixels=max_pixels))
    # spawn, not fork: the caller may be a GUI or a process with CUDA and threads running.
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            starts = iter(range(0, total, CHUNK))
            pending = {}
            try:
                while True:
                    while len(pending) < 2 * workers:  # bounded look-ahead keeps memory flat on huge folders
                        start = next(starts, None)
                        if start is None:
                            break
                        pending[pool.submit(task, paths[start : start + CHUNK])] = start
                    if not pending:
                        break
                    finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    if cancel is not None and cancel():
                        raise ScanCancelled()
                    for future in finished:
                        start = pending.pop(future)
                        results = future.result()
                        for offset, result in enumerate(results):
                            yield start + offset, result
                        finished_chunks.add(start)
                        done += len(results)
                    if finished and progress:
                        progress(done, total)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    except BrokenProcessPool:
        # Worker processes could not start (e.g. a program read from stdin cannot be re-imported by spawn):
        # decode what is left here instead.
        yield from here()


def _read_cache(cache: Path, key: str, folder: str) -> ImageSet | None:
    array_path, meta_path = cache / f"{key}.npy", cache / f"{key}.json"
    try:
        meta = json.loads(meta_path.read_text())
        images = np.load(array_path, allow_pickle=False)  # never unpickles: a cache file cannot run code
    except (OSError, ValueError):
        return None
    if images.ndim != 4 or images.dtype != np.uint8 or len(meta.get("paths", ())) != images.shape[0]:
        return None
    report = ScanReport(**{k: meta["report"][k] for k in ScanReport.__dataclass_fields__ if k in meta["report"]})
    report.folder, report.from_cache = folder, True
    return ImageSet(images=images, paths=meta["paths"], report=report)


def _write_cache(cache: Path, key: str, result: ImageSet) -> None:
    """Best effort: a cache that cannot be written only costs time next time."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".{key}.{os.getpid()}.npy"
        np.save(tmp, result.images)
        os.replace(tmp, cache / f"{key}.npy")
        tmp_meta = cache / f".{key}.{os.getpid()}.json"
        tmp_meta.write_text(json.dumps({"paths": result.paths, "report": result.report.to_dict()}))
        os.replace(tmp_meta, cache / f"{key}.json")
    except OSError:
        pass


DEVICE_SHARE = 1 / 3  # of the GPU memory free at the start that the images may take; the rest is for training


def fits_on_device(nbytes: int, free_bytes: int) -> bool:
    """Whether a dataset of nbytes is kept on a GPU with free_bytes free, or left in host memory."""
    return nbytes <= free_bytes * DEVICE_SHARE


class TensorBatches:
    """Random batches from a uint8 image tensor kept on the training device; flips happen on the tensor.

    Each epoch's order and flips are drawn at once from a dedicated torch.Generator (so a checkpoint can
    store and restore them exactly) and copied to the device once, so a batch costs no host-device copy.

    A dataset too big for the GPU (more than a third of its free memory, `fits_on_device`) stays in host
    memory: each batch is gathered there into page-locked memory and copied over without waiting for the
    GPU, then flipped there. The batches are the same either way.
    """

    def __init__(self, images: np.ndarray, device, seed: int, flip: bool = True, on_device: bool | None = None):
        self.device = torch.device(device)
        pixels = torch.from_numpy(np.ascontiguousarray(images))  # [N, 3, R, R] uint8
        if on_device is None:
            on_device = self.device.type != "cuda" or fits_on_device(
                pixels.nbytes, torch.cuda.mem_get_info(self.device)[0])
        self.on_device = on_device
        self.images = pixels.to(self.device) if on_device else pixels
        self.flip = flip
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.epoch = 0
        self._draw_epoch()

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def _draw_epoch(self) -> None:
        n = len(self)
        self.order = torch.randperm(n, generator=self.generator)
        self.flips = torch.rand(n, generator=self.generator) < 0.5 if self.flip else torch.zeros(n, dtype=torch.bool)
        self._order_where_images_are = self.order.to(self.images.device)
        self._flips_on_device = self.flips.to(self.device)
        self.position = 0

    def next(self, batch: int):
        """-> float32 [batch, 3, R, R] in [-1, 1] on the device."""
        n = len(self)
        orders, flips, need = [], [], batch
        while need > 0:
            if self.position >= n:
                self._draw_epoch()
                self.epoch += 1
            take = min(need, n - self.position)
            orders.append(self._order_where_images_are[self.position : self.position + take])
            flips.append(self._flips_on_device[self.position : self.position + take])
            self.position += take
            need -= take
        index = orders[0] if len(orders) == 1 else torch.cat(orders)
        flip = flips[0] if len(flips) == 1 else torch.cat(flips)
        x = self.images[index] if self.on_device else self._copy_over(index)
        if self.flip:
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        return x.float().div_(127.5).sub_(1.0)

    def _copy_over(self, index: torch.Tensor) -> torch.Tensor:
        """The images at `index` (host memory) on the device."""
        if self.device.type != "cuda":
            return self.images[index]
        # The pinned block is not handed out again until the copy from it has finished (PyTorch's caching
        # host allocator records the copy), so the next batch can be gathered while this one travels.
        staging = torch.empty((len(index), *self.images.shape[1:]), dtype=torch.uint8, pin_memory=True)
        torch.index_select(self.images, 0, index, out=staging)
        return staging.to(self.device, non_blocking=True)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": self.order.clone(), "flips": self.flips.clone(),
                "position": self.position, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        if len(state["order"]) != len(self) or "flips" not in state:
            # Another folder or process count than the checkpoint's: go on with a fresh epoch from the saved RNG.
            self._draw_epoch()
            return
        self.order, self.flips = state["order"].clone(), state["flips"].clone()
        self._order_where_images_are = self.order.to(self.images.device)
        self._flips_on_device = self.flips.to(self.device)
        self.position = int(state["position"])
        self.epoch = int(state["epoch"])
