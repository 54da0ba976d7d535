"""Image files in and out, with PIL and numpy only: decode any image (a file, or a member of a zip archive) to a
square RGB uint8 array, make grids, save PNGs.

`decode_image` is the one entry point for untrusted bytes: it returns an array or raises `RejectedImage`
with a short reason, never anything else.
"""

from __future__ import annotations

import errno
import io
import math
import os
import stat
import tarfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageOps, PngImagePlugin, UnidentifiedImageError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"})
DEFAULT_MAX_PIXELS = 8192 * 8192  # larger images are refused as possible decompression bombs

# Reasons a file is skipped, as shown to the user.
ZERO_BYTE = "zero-byte file"
NOT_AN_IMAGE = "not an image"
CORRUPT = "corrupt or truncated"
UNREADABLE = "unreadable"
SYMLINK_LOOP = "symlink loop"
BROKEN_LINK = "broken link"
NOT_A_FILE = "not a regular file"
BOMB = "too many pixels (possible decompression bomb)"
TOO_LARGE = "file too large for an image (possible zip bomb)"
ENCRYPTED = "encrypted"

MEMBER_MAX_BYTES = 256 * 1024 * 1024  # a member of an archive that unpacks to more is refused unread


class RejectedImage(Exception):
    """A file that is not a usable image; `reason` is one of the constants above."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self):  # crosses process boundaries intact
        return (RejectedImage, (self.reason, self.detail))


@dataclass(frozen=True)
class Decoded:
    pixels: np.ndarray  # [3, R, R] uint8
    source_size: tuple[int, int]  # (width, height) as stored in the file
    upscaled: bool  # the shorter side was below the target resolution


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def read_file(path: str | os.PathLike) -> bytes:
    """The bytes of a regular file, or RejectedImage for links that loop, special files and permissions."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RejectedImage(SYMLINK_LOOP) from None
        if exc.errno == errno.ENOENT:
            raise RejectedImage(BROKEN_LINK) from None
        raise RejectedImage(UNREADABLE, exc.strerror or str(exc)) from None
    if not stat.S_ISREG(st.st_mode):  # a FIFO named face.jpg would block a plain open() forever
        raise RejectedImage(NOT_A_FILE)
    if st.st_size == 0:
        raise RejectedImage(ZERO_BYTE)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise RejectedImage(UNREADABLE, exc.strerror or str(exc)) from None


def decode_image(data: bytes, resolution: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> Decoded:
    """Bytes of any supported image -> a centre-cropped, antialiased [3, R, R] uint8 RGB array.

    Alpha is composited on white; grayscale, palette, CMYK and 16-bit images are converted; EXIF
    orientation is applied; an animated file gives its first frame.
    """
    if not data:
        raise RejectedImage(ZERO_BYTE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning and friends: we decide below
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width < 1 or height < 1:
                raise RejectedImage(CORRUPT, f"size {width}x{height}")
            if width * height > max_pixels:
                raise RejectedImage(BOMB, f"{width}x{height} is over {max_pixels:,} pixels")
            side = min(width, height)
            if img.format == "JPEG":
                # Decode at 1/2, 1/4 or 1/8 scale when that still covers the target: much faster.
                scale = resolution / side
                img.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            img.load()
            img = _upright(img)
            img = _to_rgb(img)
    except RejectedImage:
        raise
    except Image.DecompressionBombError as exc:
        raise RejectedImage(BOMB, str(exc)) from None
    except UnidentifiedImageError:
        raise RejectedImage(NOT_AN_IMAGE) from None
    except Exception as exc:  # any other failure on untrusted bytes (OSError, SyntaxError, struct.error...)
        raise RejectedImage(CORRUPT, f"{type(exc).__name__}: {exc}") from None

    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    box = (left, top, left + s, top + s)
    if s == resolution:
        out = img.crop(box)
    else:
        out = img.resize((resolution, resolution), Image.Resampling.LANCZOS, box=box)
    pixels = np.asarray(out, dtype=np.uint8).transpose(2, 0, 1).copy()
    return Decoded(pixels=pixels, source_size=(width, height), upscaled=side < resolution)


def decode_files(paths: list[str], resolution: int, max_pixels: int = DEFAULT_MAX_PIXELS
                 ) -> list[Decoded | RejectedImage]:
    """Read and decode many files (a worker process's unit of work); each result is an image or a rejection."""
    out: list[Decoded | RejectedImage] = []
    for path in paths:
        try:
            out.append(decode_image(read_file(path), resolution, max_pixels))
        except RejectedImage as exc:
            out.append(exc)
    return out


def decode_blobs(blobs: list[bytes | RejectedImage], resolution: int, max_pixels: int = DEFAULT_MAX_PIXELS
                 ) -> list[Decoded | RejectedImage]:
    """decode_image for bytes read already (a compressed tar's members, read in one pass by the process that
    streams it); a rejection made while reading passes through."""
    out: list[Decoded | RejectedImage] = []
    for blob in blobs:
        try:
            out.append(blob if isinstance(blob, RejectedImage) else decode_image(blob, resolution, max_pixels))
        except RejectedImage as exc:
            out.append(exc)
    return out


class TarArchive:
    """An uncompressed tar archive's regular files by name, each read where it lies (random access, as a zip's
    members are). Links, folders and special members are not files to read; a name stored twice is the later
    copy, as unpacking the archive would leave it."""

    def __init__(self, path: str | os.PathLike):
        self.tar = tarfile.open(path, "r:")  # a compressed tar is a tarfile.ReadError here
        try:
            self.tar.getmembers()
        except tarfile.ReadError:
            # Cut short: tarfile stops at the member whose data ends early. The members listed up to there are
            # read as usual, and the cut one is reported corrupt when its bytes come up short.
            if not self.tar.members:
                raise
        self.members = {m.name: m for m in self.tar.members if m.isreg()}

    def read(self, name: str) -> bytes:
        member = self.members.get(name)
        if member is None:
            raise RejectedImage(UNREADABLE, "not in the archive")
        if member.size == 0:
            raise RejectedImage(ZERO_BYTE)
        if member.size > MEMBER_MAX_BYTES:
            raise RejectedImage(TOO_LARGE, f"{member.size:,} bytes")
        try:
            data = self.tar.extractfile(member).read()
        except (OSError, tarfile.TarError) as exc:
            raise RejectedImage(CORRUPT, f"{type(exc).__name__}: {exc}") from None
        if len(data) != member.size:  # the archive ends inside this member
            raise RejectedImage(CORRUPT, f"{len(data):,} of {member.size:,} bytes")
        return data

    def close(self) -> None:
        self.tar.close()


def open_archive(path: str | os.PathLike) -> zipfile.ZipFile | TarArchive:
    """A .zip or an (uncompressed) .tar of images, opened to read its members."""
    return TarArchive(path) if os.fspath(path).lower().endswith(".tar") else zipfile.ZipFile(path)


def read_member(archive: zipfile.ZipFile | TarArchive, name: str) -> bytes:
    """The bytes of one member of a zip or tar archive, or RejectedImage (empty, too large, encrypted, damaged).

    The size is checked before anything is unpacked, and zipfile never yields more bytes than a member's
    stated size, so a member that claims little and unpacks to much cannot fill the memory.
    """
    if isinstance(archive, TarArchive):
        return archive.read(name)
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise RejectedImage(UNREADABLE, "not in the archive") from None
    if info.file_size == 0:
        raise RejectedImage(ZERO_BYTE)
    if info.file_size > MEMBER_MAX_BYTES:
        raise RejectedImage(TOO_LARGE, f"{info.file_size:,} bytes unpacked")
    if info.flag_bits & 0x1:
        raise RejectedImage(ENCRYPTED)
    try:
        return archive.read(info)
    except NotImplementedError as exc:  # a compression method Python cannot unpack
        raise RejectedImage(UNREADABLE, str(exc)) from None
    except Exception as exc:  # bad CRC, damaged deflate stream, archive cut short...
        raise RejectedImage(CORRUPT, f"{type(exc).__name__}: {exc}") from None


_worker_archive: dict[str, zipfile.ZipFile | TarArchive] = {}  # a worker's open archive, kept between its chunks


def decode_members(archive: zipfile.ZipFile | TarArchive | str, names: list[str], resolution: int,
                   max_pixels: int = DEFAULT_MAX_PIXELS) -> list[Decoded | RejectedImage]:
    """decode_files for members of a zip or tar archive: an open one, or (in a worker process) its path.

    A worker opens the archive once and keeps it for its next chunks: reading the index of an archive of
    20,000 files takes about 0.09 s, about as long as decoding a chunk of 128 small images.
    """
    if isinstance(archive, str):
        if archive not in _worker_archive:
            for old in _worker_archive.values():
                old.close()
            _worker_archive.clear()
            _worker_archive[archive] = open_archive(archive)
        archive = _worker_archive[archive]
    out: list[Decoded | RejectedImage] = []
    for name in names:
        try:
            out.append(decode_image(read_member(archive, name), resolution, max_pixels))
        except RejectedImage as exc:
            out.append(exc)
    return out


def _upright(img: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block should not cost the picture: keep it as stored
        return img


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode.startswith("I") or mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        if mode.startswith("I;16") or (mode == "I" and arr.max(initial=0) > 255):
            arr = arr / 257.0  # 16-bit -> 8-bit
        elif mode == "F" and arr.max(initial=0) <= 1.0:
            arr = arr * 255.0
        gray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return Image.fromarray(np.stack([gray] * 3, axis=-1), "RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def make_grid(images: np.ndarray, columns: int | None = None, padding: int = 2, fill: int = 0) -> np.ndarray:
    """[N, 3, H, W] uint8 -> one [rows*H, columns*W, 3] uint8 image, row-major, with padding between faces."""
    n, c, h, w = images.shape
    assert c == 3 and images.dtype == np.uint8, (images.shape, images.dtype)
    columns = columns or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / columns))
    grid = np.full((rows * (h + padding) + padding, columns * (w + padding) + padding, 3), fill, np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y : y + h, x : x + w] = images[i].transpose(1, 2, 0)
    return grid


SHEET_HEADER = 18  # pixels of caption above each row of a captioned sheet
SHEET_PADDING = 4  # pixels around each face


def captioned_rows(titles: list[str], rows: list[Sequence[np.ndarray]], padding: int = SHEET_PADDING) -> np.ndarray:
    """A sheet of captioned rows: each row's caption, then its faces left to right (each [3, h, w] uint8, all rows
    as many; faces of any size, each scaled to the largest, pixel for pixel). Rows suit a wide window and leave the
    whole row's width for long captions. -> [H, W, 3] uint8."""
    size = max(face.shape[-1] for faces in rows for face in faces)
    width = len(rows[0]) * (size + padding) + padding
    row_height = SHEET_HEADER + size + padding
    sheet = Image.new("RGB", (width, len(rows) * row_height + padding), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for r, (title, faces) in enumerate(zip(titles, rows)):
        y = r * row_height
        draw.text((padding, y + 5), title[: max(4, (width - 2 * padding) // 6)], fill=(0, 0, 0))
        for c, face in enumerate(faces):
            img = Image.fromarray(face.transpose(1, 2, 0))
            if img.size[0] != size:
                img = img.resize((size, size), Image.Resampling.NEAREST)
            sheet.paste(img, (padding + c * (size + padding), y + SHEET_HEADER + padding))
    return np.asarray(sheet)


def sheet_cell(x: int, y: int, size: int, rows: int, columns: int,
               padding: int = SHEET_PADDING) -> tuple[int | None, int | None]:
    """Where (x, y) falls on a sheet of `captioned_rows` with faces of `size` pixels: (row, column) on a face,
    (row, None) on a row's caption, (None, None) elsewhere (a gap, the margin)."""
    r, y_in_row = divmod(y, SHEET_HEADER + size + padding)
    c, x_in_cell = divmod(x - padding, size + padding)
    if not 0 <= r < rows:
        return None, None
    if y_in_row < SHEET_HEADER + padding:
        return r, None
    if 0 <= c < columns and x_in_cell < size:
        return r, c
    return None, None


def replace_when_written(tmp: Path, path: Path, write: Callable[[], None]) -> None:
    """Run `write` (which writes tmp), then give tmp its name; a failure or a cancel (a full disk, Ctrl-C)
    removes tmp instead, so that neither a half-written file nor its temporary one is left."""
    try:
        write()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


def _write_image(path: str | os.PathLike, pixels: np.ndarray, kind: str, text: dict[str, str] | None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    image = Image.fromarray(pixels, "RGB")
    if kind == "PNG":
        info = PngImagePlugin.PngInfo()
        for key, value in (text or {}).items():
            info.add_text(key, str(value))
        options = {"pnginfo": info}
    elif kind == "JPEG":
        # "key: value", a line each (a value cannot hold a line break: a path with one is cut there)
        lines = (f"{k}: {str(v).splitlines()[0] if str(v) else ''}" for k, v in (text or {}).items())
        options = {"quality": 95, "comment": "\n".join(lines).encode()}
    else:
        options = {"lossless": True}
    replace_when_written(tmp, path, lambda: image.save(tmp, format=kind, **options))


def save_png(path: str | os.PathLike, pixels: np.ndarray, text: dict[str, str] | None = None) -> None:
    """Write an [H, W, 3] uint8 array as PNG atomically, with optional text metadata."""
    _write_image(path, pixels, "PNG", text)


def save_image(path: str | os.PathLike, pixels: np.ndarray, text: dict[str, str] | None = None) -> None:
    """Write an [H, W, 3] uint8 array atomically in the format its suffix names: PNG (also with no suffix),
    JPEG (quality 95) or lossless WebP. PNG keeps `text` as text chunks, JPEG as its comment; another suffix
    is a ValueError that names the ones there are (so that grid.jpg never holds PNG bytes)."""
    suffix = Path(path).suffix
    kind = IMAGE_FORMATS.get(suffix.lower(), "PNG" if not suffix else None)
    if kind is None:
        raise ValueError(f"cannot write {suffix} images; use .png, .jpg or .webp")
    _write_image(path, pixels, kind, text)


def to_uint8(images) -> np.ndarray:
    """Images in [-1, 1] (a torch tensor or numpy array, [N, 3, H, W]) -> uint8 numpy [N, 3, H, W]."""
    if hasattr(images, "detach"):
        images = images.detach().float().cpu().numpy()
    return np.clip(np.rint((np.asarray(images, dtype=np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)
