"""A run's snapshot grids as one animation: how its faces changed as it trained (GIF, MP4 or PNG frames).

The engine writes a grid of faces from fixed seeds to `RUN/samples/step-N.png` every `sample_every` steps
(StyleGAN2 also `style-mixing-step-N.png`); a timelapse shows them in order, each captioned with its step
and the images seen by then, and holds the last one a moment before it loops.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from trainers.animation import ExportCancelled, write_animation

MAX_FRAMES = 300  # more snapshots than this: evenly spaced ones, the first and the last always among them
MAX_SIDE = 1024  # larger grids (StyleGAN2 at 256 px) are scaled down to this
MAX_BYTES = 512 * 2**20  # fewer frames when they would take more memory than this
CAPTION_PX = 18


class TimelapseError(ValueError):
    """A run that has no timelapse to make (fewer than two snapshots), said in words for the user."""


class TimelapseCancelled(ExportCancelled):
    def __init__(self):
        super().__init__("the timelapse was cancelled; nothing was written")


def snapshots(run_dir: str | os.PathLike, kind: str = "samples") -> list[tuple[int, Path]]:
    """(step, path) of a run's snapshots of one kind ("samples", or a family's extra such as
    "style-mixing"), oldest first."""
    prefix = "step-" if kind == "samples" else f"{kind}-step-"
    found = []
    for path in Path(run_dir, "samples").glob(f"{prefix}*.png"):
        digits = path.stem[len(prefix):]
        if digits.isdigit():
            found.append((int(digits), path))
    return sorted(found)


def _what(kind: str) -> str:
    return "snapshot grid" if kind == "samples" else f"{kind.replace('-', ' ')} snapshot"


def timelapse_snapshots(run_dir: str | os.PathLike, kind: str = "samples") -> list[tuple[int, Path]]:
    """`snapshots`, or TimelapseError when there are fewer than two: nothing to make a timelapse of."""
    shots = snapshots(run_dir, kind)
    if len(shots) < 2:
        found = f"only one {_what(kind)}" if shots else f"no {_what(kind)}"
        raise TimelapseError(f"{run_dir} has {found} in samples/ yet; a timelapse needs two or more, and the "
                             "run adds one every so many steps as it trains")
    return shots


def _spread(items: list, most: int) -> list:
    if len(items) <= most:
        return items
    return [items[i] for i in sorted(set(np.linspace(0, len(items) - 1, most).round().astype(int).tolist()))]


def _images_seen(run_dir: Path) -> dict[int, int]:
    from trainers.loop import read_log  # (torch; only when a timelapse is made)

    try:
        return {int(row["step"]): int(row["images_seen"]) for row in read_log(run_dir) if "images_seen" in row}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # captions without the images seen; the faces are what matters


def _frame_size(shots: list[tuple[int, Path]]) -> tuple[int, int]:
    """Every frame's grid size: the newest readable snapshot's, scaled down to fit MAX_SIDE."""
    width = height = MAX_SIDE
    for _, path in reversed(shots):
        try:
            with Image.open(path) as image:  # (reads the header only)
                width, height = image.size
            break
        except (OSError, Image.DecompressionBombError):
            continue
    shrink = min(1.0, MAX_SIDE / max(width, height))
    return max(1, round(width * shrink)), max(1, round(height * shrink))


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1: the small bitmap font
        return ImageFont.load_default()


def _caption(grid: Image.Image, text: str) -> np.ndarray:
    frame = Image.new("RGB", (grid.width, grid.height + CAPTION_PX), "white")
    frame.paste(grid, (0, 0))
    ImageDraw.Draw(frame).text((4, grid.height + 2), text, fill=(40, 40, 40), font=_font(CAPTION_PX - 5))
    return np.asarray(frame)


def timelapse_frames(run_dir: str | os.PathLike, kind: str = "samples", max_frames: int = MAX_FRAMES,
                     progress: Callable[[int, int], None] | None = None,
                     cancel: Callable[[], bool] | None = None) -> tuple[np.ndarray, list[int], list[Path]]:
    """-> (frames uint8 [T, H, W, 3], their steps, the snapshots that could not be read).

    Each frame is a snapshot with its caption ("step 1,500 · 48,000 images"), at the newest snapshot's size
    (another size, from a resumed run with another grid, is scaled to it) or scaled down to MAX_SIDE pixels;
    and no more frames than fit in MAX_BYTES.
    """
    run_dir = Path(run_dir)
    shots = timelapse_snapshots(run_dir, kind)
    width, height = _frame_size(shots)
    most = max(2, min(max_frames, MAX_BYTES // (width * (height + CAPTION_PX) * 3)))
    shots = _spread(shots, most)
    seen = _images_seen(run_dir)
    frames = np.empty((len(shots), height + CAPTION_PX, width, 3), np.uint8)
    steps, unreadable = [], []
    for i, (step, path) in enumerate(shots):
        if cancel is not None and cancel():
            raise TimelapseCancelled()
        try:
            with Image.open(path) as image:
                grid = image.convert("RGB")
        except (OSError, Image.DecompressionBombError):  # a damaged file: the timelapse goes on without it
            unreadable.append(path)
        else:
            if grid.size != (width, height):
                grid = grid.resize((width, height), Image.Resampling.LANCZOS)
            images = f" · {seen[step]:,} images" if step in seen else ""
            frames[len(steps)] = _caption(grid, f"step {step:,}{images}")
            steps.append(step)
        if progress is not None:
            progress(i + 1, len(shots))
    if len(steps) < 2:
        raise TimelapseError(f"fewer than two of the {_what(kind)}s in {run_dir / 'samples'} could be read")
    return frames[: len(steps)], steps, unreadable


def write_timelapse(run_dir: str | os.PathLike, out: str | os.PathLike, kind: str = "samples",
                    frame_s: float = 0.25, hold_s: float = 1.5, scale: int = 1, max_frames: int = MAX_FRAMES,
                    progress: Callable[[int, int], None] | None = None,
                    cancel: Callable[[], bool] | None = None) -> tuple[list[Path], list[int], list[Path]]:
    """Write the timelapse to .gif, .mp4 or a folder of numbered PNGs (one a snapshot, no hold).

    -> (the files written, the snapshots' steps, the snapshots that could not be read). A cancel while the
    snapshots are read or the frames are written raises TimelapseCancelled and leaves nothing behind.
    """
    if frame_s <= 0 or hold_s < 0 or scale < 1:
        raise ValueError("a frame needs a time above 0, the hold 0 or more, and the scale at least 1")
    frames, steps, unreadable = timelapse_frames(run_dir, kind, max_frames, progress, cancel)
    animated = Path(out).suffix != ""
    if animated and hold_s > 0:  # the newest faces stay a moment before the animation starts again
        frames = np.concatenate([frames, np.repeat(frames[-1:], max(1, round(hold_s / frame_s)), axis=0)])
    try:
        written = write_animation(out, frames, frame_s * len(frames), scale, cancel=cancel)
    except ExportCancelled:
        raise TimelapseCancelled() from None
    return written, steps, unreadable
