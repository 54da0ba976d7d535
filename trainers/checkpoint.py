"""Checkpoints: plain dicts of state dicts, config, step and RNG states, written atomically, loaded safely.

Layout in a run folder: checkpoints/step-000001000.pt ... and checkpoints/latest (a text file naming the
newest). Files are written to a temporary name, flushed to disk, then renamed, so a crash mid-write leaves
the previous checkpoint intact. Loading uses torch's weights-only unpickler: a file that holds anything
but tensors and plain containers is refused, so a checkpoint can never run code.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Iterable

import torch

FORMAT = "gan-studio-checkpoint"
FORMAT_VERSION = 1
_STEP_FILE = re.compile(r"^step-(\d+)\.pt$")


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message names the file and says what is wrong."""


def checkpoint_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / "checkpoints"


def atomic_write_bytes(path: Path, write) -> None:
    """Call write(file) on a temporary file beside `path`, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def save_checkpoint(run_dir: str | os.PathLike, state: dict[str, Any], step: int, keep: int = 3,
                    also_keep: Iterable[int] = ()) -> Path:
    """Write `state` as checkpoints/step-N.pt, point `latest` at it, and keep only the newest `keep` and those of
    the steps in `also_keep` (a run's best-scoring checkpoint)."""
    from trainers import __version__

    folder = checkpoint_dir(run_dir)
    path = folder / f"step-{step:09d}.pt"
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "project_version": __version__, **state}
    atomic_write_bytes(path, lambda f: torch.save(payload, f))
    atomic_write_bytes(folder / "latest", lambda f: f.write(path.name.encode()))
    kept = set(also_keep)
    for old in list_checkpoints(run_dir)[:-keep]:
        if checkpoint_step(old) not in kept:
            old.unlink(missing_ok=True)
    return path


def sweep_partial_writes(run_dir: str | os.PathLike) -> list[Path]:
    """Delete temporary files left by a write that was killed; call when a run (re)starts."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Step checkpoints in a run folder, oldest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_FILE.match(p.name))]
    return [p for _, p in sorted(found)]


def checkpoint_step(path: str | os.PathLike) -> int:
    """The step a checkpoint file holds, from its name (step-000001500.pt -> 1500)."""
    m = _STEP_FILE.match(Path(path).name)
    if m is None:
        raise ValueError(f"{path} is not named like a step checkpoint (step-NNNNNNNNN.pt)")
    return int(m.group(1))


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The checkpoint `latest` names, or else the newest step file; None when the run has none."""
    folder = checkpoint_dir(run_dir)
    try:
        name = (folder / "latest").read_text().strip()
        if _STEP_FILE.match(name) and (folder / name).is_file():
            return folder / name
    except OSError:
        pass
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A run folder or a checkpoint file -> the checkpoint file to open."""
    p = Path(path)
    if p.is_dir():
        found = latest_checkpoint(p)
        if found is None:
            raise CheckpointError(f"{p} holds no checkpoint (looked in {checkpoint_dir(p)})")
        return found
    if not p.exists():
        raise CheckpointError(f"{p} does not exist")
    return p


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely: only tensors and plain containers; never code."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if not head:
        raise CheckpointError(f"{path} is empty (0 bytes), not a checkpoint")
    if head != b"PK\x03\x04" and head[:1] != b"\x80":  # neither torch's zip format nor a (legacy) pickle
        raise CheckpointError(f"{path} is not a checkpoint: open a run folder, a checkpoint (.pt) or an exported "
                              ".onnx file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path} was refused: it holds Python objects other than tensors and plain data, which could "
            f"run code when loaded. Only open checkpoints from people you trust. ({_first_line(exc)})") from None
    except (zipfile.BadZipFile, EOFError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt: {_first_line(exc)})") from None
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a GAN Studio checkpoint")
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer GAN Studio (format {state['format_version']}); "
                              "please update")
    return state


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
