"""Quality metrics: sliced Wasserstein distance (built in, no weights), FID and KID (Inception features).

Images in: uint8 [N, 3, H, W]. `METRICS` is the registry by name: each entry computes from two image sets
and returns named figures. SWD follows Karras et al. 2018: a Laplacian pyramid down to 16 px, 128 random
7x7 patches per image per level, channels standardised per set, 4 x 128 random projections, x1e3.
FID and KID use torch-fidelity's Inception network and its published weights; statistics of real image sets
are cached by content, so evaluating another model on the same data only pays for the generated images.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"


class MetricError(Exception):
    """A metric that cannot be computed here; the message says what to do."""


# ------------------------------------------------------------------------------------------------------
# Sliced Wasserstein distance

_GAUSS = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur(x: torch.Tensor) -> torch.Tensor:
    k = (_GAUSS[:, None] * _GAUSS[None, :]).to(x)[None, None].repeat(x.shape[1], 1, 1, 1)
    return F.conv2d(F.pad(x, [2, 2, 2, 2], mode="reflect"), k, groups=x.shape[1])


def laplacian_pyramid(images: torch.Tensor, min_size: int = 16) -> list[torch.Tensor]:
    """float [N, 3, H, W] -> band-pass levels from full resolution down to min_size (the last is low-pass)."""
    levels, current = [], images
    while current.shape[-1] > min_size:
        down = _blur(current)[..., ::2, ::2]
        up = _blur(F.interpolate(down, scale_factor=2, mode="nearest"))
        levels.append(current - up)
        current = down
    levels.append(current)
    return levels


def _patches(level: torch.Tensor, per_image: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """[N, C, H, W] -> [N * per_image, C * size * size] random patches."""
    n, c, h, w = level.shape
    ys = torch.randint(0, h - size + 1, (n, per_image), generator=generator)
    xs = torch.randint(0, w - size + 1, (n, per_image), generator=generator)
    offsets = torch.arange(size)
    rows = (ys[..., None] + offsets)[..., :, None].expand(-1, -1, size, size)  # [N, P, s, s]
    cols = (xs[..., None] + offsets)[..., None, :].expand(-1, -1, size, size)
    flat = (rows * w + cols).reshape(n, 1, -1).expand(-1, c, -1)  # [N, C, P*s*s]
    patches = level.reshape(n, c, h * w).gather(2, flat).reshape(n, c, per_image, size * size)
    return patches.permute(0, 2, 1, 3).reshape(n * per_image, c * size * size)


def _standardise(desc: torch.Tensor, channels: int = 3) -> torch.Tensor:
    """Zero mean, unit variance per colour channel over the whole set."""
    d = desc.reshape(desc.shape[0], channels, -1)
    mean = d.mean(dim=(0, 2), keepdim=True)
    std = (d - mean).square().mean(dim=(0, 2), keepdim=True).sqrt().clamp_min(1e-8)
    return ((d - mean) / std).reshape(desc.shape)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, repeats: int, directions: int,
                       generator: torch.Generator) -> float:
    """Mean over random unit directions of the 1-D Wasserstein distance between the projected sets."""
    total = 0.0
    a_np, b_np = a.numpy(), b.numpy()
    for _ in range(repeats):
        dirs = torch.randn(a.shape[1], directions, generator=generator)
        dirs = (dirs / dirs.norm(dim=0, keepdim=True)).numpy()
        # numpy's vectorised sort is several times faster than torch's on the CPU for this shape.
        pa = np.sort(np.ascontiguousarray((a_np @ dirs).T), axis=1)
        pb = np.sort(np.ascontiguousarray((b_np @ dirs).T), axis=1)
        total += float(np.abs(pa - pb).mean())
    return total / repeats


def swd(real: np.ndarray, fake: np.ndarray, seed: int = 0, patches: int = 128, patch_size: int = 7,
        repeats: int = 4, directions: int = 128, batch: int = 256,
        progress: Callable[[int, int], None] | None = None) -> dict[str, float]:
    """SWD x1e3 per pyramid level ("SWD/64", "SWD/32", "SWD/16") and their mean ("SWD").

    `progress(done, total)` is called after each batch of patches and each level's distance; an exception it
    raises (a cancel) ends the computation there."""
    n = min(len(real), len(fake))
    if n < 2:
        raise MetricError("SWD needs at least two images in each set")
    generator = torch.Generator().manual_seed(seed)
    descriptors: list[list[list[torch.Tensor]]] = [[], []]
    levels = 1 + sum(1 for k in range(16) if real.shape[-1] >> k > 16)  # laplacian_pyramid's levels
    done, total = 0, 2 * -(-n // batch) + levels
    for s, images in enumerate((real[:n], fake[:n])):
        for i in range(0, n, batch):
            x = torch.from_numpy(np.ascontiguousarray(images[i : i + batch])).float() / 127.5 - 1.0
            for level_index, level in enumerate(laplacian_pyramid(x)):
                if len(descriptors[s]) <= level_index:
                    descriptors[s].append([])
                descriptors[s][level_index].append(_patches(level, patches, patch_size, generator))
            done += 1
            if progress is not None:
                progress(done, total)
    out = {}
    resolution = real.shape[-1]
    for level_index in range(len(descriptors[0])):
        a = _standardise(torch.cat(descriptors[0][level_index]))
        b = _standardise(torch.cat(descriptors[1][level_index]))
        out[f"SWD/{resolution >> level_index}"] = sliced_wasserstein(a, b, repeats, directions, generator) * 1e3
        done += 1
        if progress is not None:
            progress(done, total)
    out["SWD"] = float(np.mean(list(out.values())))
    return out


# ------------------------------------------------------------------------------------------------------
# FID and KID


def default_inception_path() -> Path:
    from trainers.data import default_cache_dir

    return default_cache_dir().parent / INCEPTION_FILE


@dataclass
class InceptionFeatures:
    """Pool3 (2048-d) features of torch-fidelity's InceptionV3."""

    weights: str | None = None  # a local weights file; None = the default cache path, else download
    device: str = "cpu"
    batch: int = 64

    def __post_init__(self) -> None:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        path = Path(self.weights) if self.weights else default_inception_path()
        if self.weights and not path.is_file():
            raise MetricError(f"Inception weights file {path} does not exist")
        if path.is_file():
            # torch-fidelity opens the file with the full unpickler; prove first that it holds only tensors.
            try:
                torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:
                raise MetricError(f"{path} was refused as Inception weights: it is not a plain weights file "
                                  f"({str(exc).splitlines()[0][:200]})") from None
            weights = str(path)
        else:
            weights = None  # the library downloads its published weights
        try:
            self.net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                                   feature_extractor_weights_path=weights).eval().to(self.device)
        except (OSError, RuntimeError) as exc:  # offline (URLError is an OSError) or a mismatched file
            raise MetricError(
                f"FID and KID need the Inception weights ({INCEPTION_FILE}). This machine could not download them "
                f"({str(exc).splitlines()[0][:160]}). Get the file from {INCEPTION_URL} and put it at "
                f"{default_inception_path()} or pass its path (CLI: --inception FILE; studio: Compare > Inception weights for FID/KID…)") from None
        self.source = weights or INCEPTION_URL

    @torch.no_grad()
    def __call__(self, images: np.ndarray, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        out = []
        for i in range(0, len(images), self.batch):
            x = torch.from_numpy(np.ascontiguousarray(images[i : i + self.batch])).to(self.device)
            out.append(self.net(x)[0].double().cpu().numpy())
            if progress:
                progress(min(i + self.batch, len(images)), len(images))
        return np.concatenate(out)


_EXTRACTORS: dict[tuple[str | None, str], InceptionFeatures] = {}


def inception_features(weights: str | None = None, device: str = "cpu") -> InceptionFeatures:
    """A shared extractor per weights file and device: loading the network takes seconds."""
    key = (weights, device)
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = InceptionFeatures(weights, device)
    return _EXTRACTORS[key]


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    stats = [{"mu": f.mean(0), "sigma": np.cov(f, rowvar=False)} for f in (a, b)]
    return float(fid_statistics_to_metric(stats[0], stats[1], verbose=False)["frechet_inception_distance"])


def kid_from_features(a: np.ndarray, b: np.ndarray, seed: int = 0) -> float:
    from torch_fidelity.metric_kid import kid_features_to_metric

    size = min(1000, len(a), len(b))
    result = kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), kid_subsets=100,
                                    kid_subset_size=size, kid_degree=3, kid_gamma=None, kid_coef0=1.0,
                                    rng_seed=seed, verbose=False)
    return float(result["kernel_inception_distance_mean"])


def content_key(images: np.ndarray, *parts) -> str:
    h = hashlib.sha256(repr(parts).encode())
    h.update(str(images.shape).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    return h.hexdigest()[:32]


def cached_features(images: np.ndarray, extractor: InceptionFeatures, cache_dir: Path | None = None,
                    progress=None) -> np.ndarray:
    """Inception features of a real image set, cached on disk by the images' content."""
    from trainers.data import default_cache_dir

    cache = (cache_dir or default_cache_dir().parent / "metrics")
    path = cache / f"inception-{content_key(images, extractor.source)}.npy"
    if path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            pass
    features = extractor(images, progress)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.npy")
        np.save(tmp, features)
        os.replace(tmp, path)
    except OSError:
        pass
    return features


METRICS = ("swd", "fid", "kid")


def floor_pair(count: int, pick: np.ndarray, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint sets of indices into a dataset of `count` images, for a real-against-real score, the floor a
    model can reach: `pick` (the images models are scored against) and as many others, when there are that
    many; else the whole dataset split in two halves (fewer images a side, so a somewhat higher floor).
    -> (indices, indices), each sorted."""
    rng = np.random.default_rng(seed)
    pick = np.asarray(pick)
    rest = np.setdiff1d(np.arange(count), pick)
    if len(rest) >= len(pick):
        return np.sort(pick), np.sort(rng.permutation(rest)[: len(pick)])
    order = rng.permutation(count)
    half = count // 2
    return np.sort(order[:half]), np.sort(order[half : 2 * half])


def evaluate(real: np.ndarray, fake: np.ndarray, metrics: list[str], seed: int = 0, inception: str | None = None,
             device: str = "cpu", progress=None) -> dict[str, float]:
    """Every asked-for metric of `fake` against `real` (both uint8 [N, 3, H, W])."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise MetricError(f"unknown metric {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    out: dict[str, float] = {}
    if "swd" in metrics:
        out.update(swd(real, fake, seed=seed, progress=progress))
    if "fid" in metrics or "kid" in metrics:
        extractor = inception_features(inception, device)
        real_features = cached_features(real, extractor, progress=progress)
        fake_features = extractor(fake, progress)
        if "fid" in metrics:
            out["FID"] = fid_from_features(real_features, fake_features)
        if "kid" in metrics:
            out["KID"] = kid_from_features(real_features, fake_features, seed)
    return out
