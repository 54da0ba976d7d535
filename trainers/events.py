"""The events a training run yields: small frozen dataclasses holding plain Python and numpy, never torch."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Started:
    run_dir: str
    family: str
    device: str
    num_images: int
    step: int  # first step of this session (> 0 when resumed)
    total_steps: int | None  # None when the run is bounded by time only


@dataclass(frozen=True)
class Progress:
    step: int
    images_seen: int
    stats: dict[str, float]  # name-addressed: "Loss/D", "Loss/G", "Speed/img_per_s", ...
    img_per_s: float
    elapsed_s: float
    eta_s: float | None  # None when unknown


@dataclass(frozen=True)
class Samples:
    step: int
    images_seen: int
    grid: np.ndarray  # [H, W, 3] uint8: the fixed-seed snapshot grid
    path: str | None = None  # where the grid PNG was written, if it was
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # family-specific grids, e.g. "style-mixing"


@dataclass(frozen=True)
class Scoring:
    """A quality score is being taken (seconds on a CPU); training waits for it, and Scored follows."""

    step: int
    n: int  # faces in each set


@dataclass(frozen=True)
class Scored:
    """A quality score taken while training: SWD x1e3 of generated faces against real ones (lower is better)."""

    step: int
    images_seen: int
    scores: dict[str, float]  # "SWD" (the mean) and its pyramid levels ("SWD/64", ...)
    n: int  # faces in each set
    reference: str  # what the real faces were: "held-out" or "training"
    seconds: float  # how long scoring took (not counted as training time)


@dataclass(frozen=True)
class Checkpointed:
    step: int
    images_seen: int
    path: str


@dataclass(frozen=True)
class Paused:
    step: int


@dataclass(frozen=True)
class Resumed:
    step: int


@dataclass(frozen=True)
class Notice:
    """Something the user should know that does not stop the run (e.g. upscaled images)."""

    message: str


@dataclass(frozen=True)
class Finished:
    step: int
    images_seen: int
    elapsed_s: float
    stopped: bool  # True when the user asked to stop before the planned end
    checkpoint: str | None = None
    best_checkpoint: str | None = None  # in a run that scores: its best-scoring checkpoint ...
    best_swd: float | None = None  # ... and that checkpoint's SWD


@dataclass(frozen=True)
class Failed:
    message: str
    step: int = 0
    details: str = field(default="", repr=False)


Event = Started | Progress | Samples | Scoring | Scored | Checkpointed | Paused | Resumed | Notice | Finished | Failed


def format_duration(seconds: float) -> str:
    """1:02:03 or 2:03, for progress displays."""
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
