"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to real and fake images alike,
so that a discriminator trained on a small dataset does not simply memorise it.

Images: [N, 3, H, W] in [-1, 1]; each function returns the same shape. Randomness comes from torch's RNG.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def color(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean  # contrast


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio of its size, filling with zeros."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sy, sy + 1, (n, 1, 1), device=x.device)
    tx = torch.randint(-sx, sx + 1, (n, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = torch.clamp(gy[None] + ty + 1, 0, h + 1)
    gx = torch.clamp(gx[None] + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])  # the border row/column of zeros is what shifted-in pixels read
    index = (gy * (w + 2) + gx).reshape(n, 1, h * w).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, index).reshape_as(x)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of ratio x the image size in each image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    top, left = oy - ch // 2, ox - cw // 2
    inside = (gy[None] >= top) & (gy[None] < top + ch) & (gx[None] >= left) & (gx[None] < left + cw)
    return x * (~inside)[:, None].to(x.dtype)


AUGMENTS = {"color": color, "translation": translation, "cutout": cutout}


def parse(policy: str) -> list:
    names = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [p for p in names if p not in AUGMENTS]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {', '.join(unknown)}; choose from {', '.join(AUGMENTS)}")
    return [AUGMENTS[p] for p in names]


def apply(x: torch.Tensor, functions: list) -> torch.Tensor:
    for f in functions:
        x = f(x)
    return x
