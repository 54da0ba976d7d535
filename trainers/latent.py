"""Latent vectors: per-seed z draws, interpolation (lerp, slerp), truncation and style mixing.

Each face is tied to one integer seed: z = N(0, I) drawn from a generator seeded with that seed alone, so
a face regenerates identically whatever the batch it is drawn in.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch


def z_from_seeds(seeds: Iterable[int], z_dim: int) -> torch.Tensor:
    """-> float32 [len(seeds), z_dim] on the CPU."""
    rows = [torch.randn(z_dim, generator=torch.Generator().manual_seed(int(s) % 2**63)) for s in seeds]
    return torch.stack(rows) if rows else torch.empty(0, z_dim)


def z_from_seeds_np(seeds: Iterable[int], z_dim: int) -> np.ndarray:
    return z_from_seeds(seeds, z_dim).numpy()


def lerp(a, b, t):
    """Linear interpolation; t broadcasts ([T, 1] with a, b of [1, D] gives [T, D])."""
    return a + (b - a) * t


def slerp(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Spherical interpolation between latent vectors a and b ([..., D]); falls back to lerp when parallel."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.asarray(t, np.float64)[..., None] if np.ndim(t) else float(t)
    na = a / np.linalg.norm(a, axis=-1, keepdims=True)
    nb = b / np.linalg.norm(b, axis=-1, keepdims=True)
    omega = np.arccos(np.clip((na * nb).sum(-1, keepdims=True), -1.0, 1.0))
    so = np.sin(omega)
    if np.all(so < 1e-6):
        return (a + (b - a) * t).astype(np.float32)
    out = (np.sin((1.0 - t) * omega) / so) * a + (np.sin(t * omega) / so) * b
    return out.astype(np.float32)


def truncate(ws, w_avg, psi: float, cutoff: int | None = None):
    """Pull ws [N, num_ws, w_dim] towards w_avg [w_dim] by psi (1 = unchanged); only layers < cutoff if given."""
    if psi == 1.0:
        return ws
    pulled = w_avg + (ws - w_avg) * psi
    if cutoff is None:
        return pulled
    out = ws.clone() if hasattr(ws, "clone") else ws.copy()
    out[:, :cutoff] = pulled[:, :cutoff]
    return out


def style_mix(ws_a, ws_b, layers: Sequence[int] | slice):
    """ws_a with the layers named by `layers` taken from ws_b (both [N, num_ws, w_dim])."""
    out = ws_a.clone() if hasattr(ws_a, "clone") else ws_a.copy()
    out[:, layers] = ws_b[:, layers]
    return out


def interpolation_path(keys: np.ndarray, frames: int, loop: bool = False, spherical: bool = False) -> np.ndarray:
    """Latents along a path through keys [K, ...] -> [frames, ...], evenly spaced in time.

    Without loop the path starts on the first key and ends on the last; with loop it returns towards the
    first key, leaving the closing frame out so that the animation repeats seamlessly.
    spherical: slerp between neighbouring keys (for Gaussian z); else lerp (for w).
    """
    keys = np.asarray(keys, np.float32)
    if len(keys) < 2:
        raise ValueError("an interpolation needs at least two keys")
    if frames < 2:
        raise ValueError("an interpolation needs at least two frames")
    points = np.concatenate([keys, keys[:1]]) if loop else keys
    segments = len(points) - 1
    positions = np.linspace(0.0, segments, frames, endpoint=not loop)
    out = np.empty((frames, *keys.shape[1:]), np.float32)
    flat = points.reshape(len(points), -1)
    for i, pos in enumerate(positions):
        seg = min(int(pos), segments - 1)
        t = float(pos - seg)
        a, b = flat[seg], flat[seg + 1]
        out[i] = (slerp(a, b, t) if spherical else lerp(a, b, t)).reshape(keys.shape[1:])
    return out
