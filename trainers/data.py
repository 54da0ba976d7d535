"""Image folders (or zip and tar archives of images) -> one uint8 [N, 3, R, R] array, with a report of skipped
files and an on-disk cache.

Scanning is recursive and safe against symlink loops and special files. A `.zip` or an uncompressed `.tar` is
read in place, member by member, never unpacked to disk; a compressed tar (`.tar.gz`, `.tgz`, `.tar.bz2`,
`.tar.xz`) is read in one pass, also without unpacking it to disk. Large folders are decoded by a pool of worker
processes, one per core. The result is cached under the user's cache folder, keyed by the folder's file list,
sizes and modification times (an archive's member list, sizes and CRC-32s or times; a compressed tar's own size
and time), so reopening a large folder reads one file instead of decoding every image again.
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


ARCHIVE_SUFFIXES = (".zip", ".tar")  # read in place, a member at a time
# A compressed tar is read in one pass instead: none of its members can be reached without unpacking all that come
# before it. Python's tarfile reads zstd from Python 3.14 on.
COMPRESSED_TARS = {".tar.gz": "gz", ".tgz": "gz", ".tar.bz2": "bz2", ".tbz2": "bz2", ".tar.xz": "xz",
                   ".txz": "xz", ".tar.zst": "zst", ".tzst": "zst"}
ARCHIVE_PATTERNS = " ".join("*" + suffix for suffix in (*ARCHIVE_SUFFIXES, *COMPRESSED_TARS))  # for file dialogs


def _compression(path: str | os.PathLike) -> str:
    """'gz', 'bz2', 'xz' or 'zst' for a compressed tar's name, else ''."""
    name = os.fspath(path).lower()
    return next((kind for suffix, kind in COMPRESSED_TARS.items() if name.endswith(suffix)), "")


def is_archive(path: str | os.PathLike) -> bool:
    """Whether `path` is a zip or tar file (compressed or not) to read images from, rather than a folder."""
    return (os.fspath(path).lower().endswith(ARCHIVE_SUFFIXES) or bool(_compression(path))) and os.path.isfile(path)


def scan_folder(folder: str | os.PathLike, cancel: Callable[[], bool] | None = None,
                ) -> tuple[list[FileEntry], dict[str, list[str]]]:
    """Every file with an image extension under `folder` (recursively, following links to folders once).

    Returns the entries sorted by path and the files already rejected while listing (links that loop,
    broken links, special files). Files without an image extension are ignored silently.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{folder} does not exist" if not root.exists()
                           else f"{folder} is not a folder (nor a .zip or .tar of images)")
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
    members = {e.path: e for e in found if _image_member(e.path)}
    # component by component, as a folder walk orders them: the held-out files of --holdout are the same
    return sorted(members.values(), key=_walk_order)


def _image_member(name: str) -> bool:
    """An archive member to read as an image: an image's name, and not one of the resource forks macOS adds
    (`__MACOSX/`, `._NAME`), which carry image names but hold no image."""
    return (imgs.is_image_name(name) and not name.startswith("__MACOSX/")
            and not name.rpartition("/")[2].startswith("._"))


def _walk_order(entry: FileEntry) -> list[str]:
    return entry.path.split("/")


STREAM_CUT = "(the rest of the archive: it ends early)"  # a compressed tar cut short between two members


def _stream_members(path: str, kind: str, cancel: Callable[[], bool] | None, read: Callable[[int], None],
                    ) -> Iterator[tuple[FileEntry, bytes | imgs.RejectedImage]]:
    """The image members of a compressed tar, in the archive's order, read in one pass: each as its entry and its
    bytes (or the reason it cannot be used). read(bytes) is told how far into the compressed file the pass is.
    A member whose bytes end early is reported corrupt, and a cut between members ends the pass with STREAM_CUT;
    the members before the cut are kept, as they are in an uncompressed tar cut short."""
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read ({exc.strerror or exc})") from None
    with raw:
        try:
            tar = tarfile.open(fileobj=raw, mode=f"r|{kind}")
        except tarfile.CompressionError as exc:
            raise DatasetError(f"{path} cannot be read by this Python ({exc}): unpack it, or pack its images as a "
                               ".zip or an uncompressed .tar") from None
        except (tarfile.TarError, OSError, EOFError) as exc:
            why = str(exc)
            if why == "empty file" and os.path.getsize(path):  # (bzip2 unpacks nothing of a first block cut short)
                why = "nothing unpacks from it: is it cut short?"
            raise DatasetError(f"{path} is not a readable {kind} compressed tar archive ({why})") from None
        with tar:
            members = iter(tar)
            while True:
                if cancel is not None and cancel():
                    raise ScanCancelled()
                try:
                    member = next(members, None)
                except (tarfile.TarError, OSError, EOFError) as exc:  # zlib, lzma and bz2 errors are OSErrors
                    yield FileEntry(STREAM_CUT, 0, 0), imgs.RejectedImage(imgs.CORRUPT, str(exc))
                    return
                if member is None:
                    return
                read(raw.tell())
                if not member.isreg() or not _image_member(member.name):
                    continue
                entry = FileEntry(member.name, member.size, int(member.mtime))
                if member.size == 0:
                    yield entry, imgs.RejectedImage(imgs.ZERO_BYTE)
                elif member.size > imgs.MEMBER_MAX_BYTES:
                    yield entry, imgs.RejectedImage(imgs.TOO_LARGE, f"{member.size:,} bytes")
                else:
                    try:
                        data = tar.extractfile(member).read()
                    except (tarfile.TarError, OSError, EOFError) as exc:
                        yield entry, imgs.RejectedImage(imgs.CORRUPT, f"{type(exc).__name__}: {exc}")
                        return
                    if len(data) != member.size:
                        yield entry, imgs.RejectedImage(imgs.CORRUPT, f"{len(data):,} of {member.size:,} bytes")
                        return
                    yield entry, data


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
    compression = _compression(folder) if archive else ""
    if compression:
        # Its members cannot be listed without unpacking it all: its size and time stand for what it holds.
        st = os.stat(folder)
        entries, listing_rejects = [], {}
        key = cache_key([FileEntry(os.path.basename(folder), st.st_size, st.st_mtime_ns)], resolution, max_pixels,
                        f"tar.{compression}")
    else:
        entries, listing_rejects = (scan_archive(folder), {}) if archive else scan_folder(folder, cancel)
        key = cache_key(entries, resolution, max_pixels, Path(folder).suffix.lower().lstrip(".") if archive else "")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if use_cache:
        cached = _read_cache(cache, key, folder)
        if cached is not None:
            cached.report.seconds = time.perf_counter() - started
            if progress:
                progress(cached.report.found, cached.report.found)
            return cached

    if compression:
        entries, decoding = _decode_stream(folder, compression, resolution, max_pixels, workers, progress, cancel)
    else:
        names = [e.path for e in entries] if archive else [os.path.join(folder, e.path) for e in entries]
        decoding = _decode_all(names, resolution, max_pixels, workers, progress, cancel, folder if archive else None)
    report = ScanReport(folder=folder, found=len(entries) + sum(map(len, listing_rejects.values())))
    for reason, paths in listing_rejects.items():
        report.rejected.setdefault(reason, []).extend(paths)
    out = np.empty((len(entries), 3, resolution, resolution), np.uint8)
    ok = np.zeros(len(entries), bool)
    sizes: Counter[str] = Counter()
    try:
        for i, result in decoding:
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
    """Decode every path (member names when `archive` is a zip's or tar's path), yielding (index, result)."""
    total = len(paths)
    workers = workers or os.cpu_count() or 1
    if archive is None:
        task = functools.partial(imgs.decode_files, resolution=resolution, max_pixels=max_pixels)

        def here(stack: contextlib.ExitStack) -> Callable[[list], list]:
            return task
    else:
        # A worker is handed the archive's path, not an open file: it opens the archive once for all its chunks.
        task = functools.partial(imgs.decode_members, archive, resolution=resolution, max_pixels=max_pixels)

        def here(stack: contextlib.ExitStack) -> Callable[[list], list]:
            opened = imgs.open_archive(archive)
            stack.callback(opened.close)
            return functools.partial(imgs.decode_members, opened, resolution=resolution, max_pixels=max_pixels)

    def chunks() -> Iterator[tuple[int, list[str]]]:
        return ((start, paths[start : start + CHUNK]) for start in range(0, total, CHUNK))

    done = 0
    for start, results in _in_chunks(chunks, task, here, workers if total >= PARALLEL_MIN_FILES else 1, cancel):
        for offset, result in enumerate(results):
            yield start + offset, result
        done += len(results)
        if progress:
            progress(done, total)


def _decode_stream(path: str, kind: str, resolution: int, max_pixels: int, workers: int | None,
                   progress: Callable[[int, int], None] | None, cancel: Callable[[], bool] | None,
                   ) -> tuple[list[FileEntry], Iterator[tuple[int, imgs.Decoded | imgs.RejectedImage]]]:
    """A compressed tar's image members, read in one pass and decoded as they come (by worker processes for a
    large archive): their entries in the order scan_archive gives an uncompressed tar (a name stored twice is the
    later copy, as unpacking leaves it), and (index, result) for each. Progress counts images against a total
    estimated from how far into the compressed file the pass is, until the end gives the true one."""
    size = max(1, os.path.getsize(path))
    workers = workers or os.cpu_count() or 1
    found: list[FileEntry] = []
    position = 1  # bytes of the compressed file read

    def at(offset: int) -> None:
        nonlocal position
        position = max(1, offset)

    def chunks() -> Iterator[tuple[int, list[bytes | imgs.RejectedImage]]]:
        index, batch = 0, []
        for entry, blob in _stream_members(path, kind, cancel, at):
            if index == len(found):  # (a second pass, after the worker processes failed, finds the same ones)
                found.append(entry)
            index += 1
            batch.append(blob)
            if len(batch) == CHUNK:
                yield index - len(batch), batch
                batch = []
        if batch:
            yield index - len(batch), batch

    task = functools.partial(imgs.decode_blobs, resolution=resolution, max_pixels=max_pixels)
    decoded: dict[int, imgs.Decoded | imgs.RejectedImage] = {}
    # (compressed faces of 64 px take about 2 kB each: a small archive is decoded here, as a small folder is)
    parallel = workers if size >= PARALLEL_MIN_FILES * 2048 else 1
    for start, results in _in_chunks(chunks, task, lambda stack: task, parallel, cancel):
        decoded.update(zip(range(start, start + len(results)), results))
        if progress:
            progress(len(decoded), max(len(found), round(len(found) * size / position)))
    if progress:
        progress(len(decoded), len(decoded))
    latest = {entry.path: i for i, entry in enumerate(found)}
    order = sorted(latest.values(), key=lambda i: _walk_order(found[i]))

    def results() -> Iterator[tuple[int, imgs.Decoded | imgs.RejectedImage]]:
        for n, i in enumerate(order):
            yield n, decoded.pop(i)  # each image's pixels are let go once they are copied

    return [found[i] for i in order], results()


def _in_chunks(chunks: Callable[[], Iterator[tuple[int, list]]], task: Callable[[list], list],
               here: Callable[[contextlib.ExitStack], Callable[[list], list]], workers: int,
               cancel: Callable[[], bool] | None) -> Iterator[tuple[int, list]]:
    """task(chunk) for each (start, chunk) of chunks(), yielding (start, results) as chunks finish: in a pool of
    `workers` processes, or here (with the function here(stack) gives) when workers is 1. PIL's Python-side work
    per file outweighs the decoding itself for small images, so threads would mostly wait on the GIL. If the
    processes cannot start, the chunks not finished yet are done here: chunks() must make the same ones again."""
    finished: set[int] = set()

    def in_this_process() -> Iterator[tuple[int, list]]:
        with contextlib.ExitStack() as stack:
            run = here(stack)
            for start, chunk in stack.enter_context(contextlib.closing(chunks())):
                if start in finished:
                    continue
                if cancel is not None and cancel():
                    raise ScanCancelled()
                yield start, run(chunk)

    if workers == 1:
        yield from in_this_process()
        return
    # spawn, not fork: the caller may be a GUI or a process with CUDA and threads running.
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool, \
                contextlib.closing(chunks()) as made:
            pending = {}
            try:
                while True:
                    while len(pending) < 2 * workers:  # bounded look-ahead keeps memory flat on huge folders
                        start, chunk = next(made, (None, None))
                        if start is None:
                            break
                        pending[pool.submit(task, chunk)] = start
                    if not pending:
                        break
                    done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    if cancel is not None and cancel():
                        raise ScanCancelled()
                    for future in done:
                        start = pending.pop(future)
                        yield start, future.result()
                        finished.add(start)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    except BrokenProcessPool:
        # Worker processes could not start (e.g. a program read from stdin cannot be re-imported by spawn):
        # decode what is left here instead.
        yield from in_this_process()


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
        if not len(images):
            raise ValueError("no images to draw batches from")  # (a batch would wait for them forever)
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
