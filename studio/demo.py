"""The built-in demo: procedural faces written once to the cache, and the small models shipped in resources/."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from trainers.data import default_cache_dir
from trainers.demo_faces import write_demo_folder

DEMO_FACES = 512


def demo_folder_path() -> Path:
    return default_cache_dir().parent / "demo-faces"


def demo_folder(n: int = DEMO_FACES) -> Path:
    """A folder of n demo faces (64x64 PNGs), written on first use."""
    folder = demo_folder_path()
    if len(list(folder.glob("face-*.png"))) < n:
        write_demo_folder(folder, n, size=64)
    return folder


def demo_models() -> list[Path]:
    """The shipped demo generators, StyleGAN2 first (it can show every panel)."""
    base = resources.files("resources") / "demo"
    found = [Path(str(base / name)) for name in ("stylegan2.onnx", "dcgan-tutorial.onnx")]
    return [p for p in found if p.is_file()]


def is_demo_model(path: str | Path) -> bool:
    """A model shipped with the studio (a stand-in until the user has one of their own)."""
    base = Path(str(resources.files("resources") / "demo")).resolve()
    return Path(path).resolve().parent == base
