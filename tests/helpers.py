"""Shared test helpers: tiny configs and image folders made from the project's own demo faces."""

from __future__ import annotations

from pathlib import Path

from trainers.config import TrainConfig
from trainers.demo_faces import write_demo_folder

# Widths small enough that a few steps of every family take well under a second on a 2-core CPU.
TINY = {
    "dcgan": dict(g_width=32, d_width=8),
    "dcgan-tutorial": dict(g_width=8, d_width=8),
    "wgan-clip": dict(g_width=32, d_width=8),
    "wgan-gp": dict(g_width=32, d_width=8),
    "stylegan2": dict(preset="tiny"),
}


def faces_folder(root: Path, n: int = 24, size: int = 40) -> Path:
    folder = root / "faces"
    write_demo_folder(folder, n, size=size)
    return folder


def tiny_config(model: str, data: Path, out: Path, **overrides) -> TrainConfig:
    values = dict(TINY[model], data=str(data), out=str(out), resolution=32, batch=4, steps=4, device="cpu",
                  log_every=2, sample_every=2, checkpoint_every=2, grid_size=2, n_critic=None)
    if model in ("wgan-clip", "wgan-gp"):
        values["n_critic"] = 2
    values.update(overrides)
    return TrainConfig.for_family(model, **values)
