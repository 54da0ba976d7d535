"""Procedural cartoon faces: the studio's built-in demo dataset and the tests' image source.

Each face is drawn from its own seed (face shape, skin, hair style and colour, eye colour, expression),
so the same seed always gives the same picture. Drawn at 4x size and downsampled, for smooth edges.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SKIN = [(255, 224, 196), (241, 194, 160), (224, 172, 130), (198, 134, 94), (141, 85, 54), (255, 236, 220)]
HAIR = [(40, 30, 25), (110, 70, 40), (230, 200, 120), (200, 60, 40), (70, 90, 200), (240, 130, 190),
        (230, 230, 235), (90, 180, 120)]
EYES = [(60, 110, 200), (70, 140, 80), (120, 80, 40), (150, 60, 170), (200, 60, 60), (40, 40, 50)]
BACKGROUNDS = [(250, 240, 230), (220, 235, 250), (235, 250, 225), (250, 225, 235), (240, 240, 240)]


def demo_face(seed: int, size: int = 64) -> Image.Image:
    """One RGB face of size x size pixels for `seed`."""
    rng = np.random.default_rng(seed)
    s = size * 4
    img = Image.new("RGB", (s, s), BACKGROUNDS[rng.integers(len(BACKGROUNDS))])
    d = ImageDraw.Draw(img)
    skin = SKIN[rng.integers(len(SKIN))]
    hair = HAIR[rng.integers(len(HAIR))]
    eye = EYES[rng.integers(len(EYES))]
    cx = s * (0.5 + rng.uniform(-0.04, 0.04))
    fw = s * rng.uniform(0.26, 0.34)  # half width of the face
    fh = s * rng.uniform(0.32, 0.40)  # half height
    cy = s * 0.55

    # Hair behind the face: long or short.
    if rng.random() < 0.5:
        d.rectangle([cx - fw * 1.15, cy - fh * 0.6, cx + fw * 1.15, cy + fh * rng.uniform(0.6, 1.1)], fill=hair)
    d.ellipse([cx - fw * 1.12, cy - fh * 1.12, cx + fw * 1.12, cy + fh * 0.5], fill=hair)
    d.ellipse([cx - fw, cy - fh, cx + fw, cy + fh], fill=skin)
    # Fringe.
    fringe = rng.uniform(0.35, 0.6)
    d.chord([cx - fw * 1.05, cy - fh * 1.1, cx + fw * 1.05, cy - fh * (1 - 2 * fringe)], 180, 360, fill=hair)

    # Eyes: large anime-style ovals with a highlight.
    ey = cy + fh * rng.uniform(-0.05, 0.12)
    ex = fw * rng.uniform(0.38, 0.5)
    er = fw * rng.uniform(0.14, 0.22)
    for side in (-1, 1):
        x = cx + side * ex
        d.ellipse([x - er, ey - er * 1.35, x + er, ey + er * 1.35], fill=(255, 255, 255))
        d.ellipse([x - er * 0.75, ey - er * 1.1, x + er * 0.75, ey + er * 1.2], fill=eye)
        d.ellipse([x - er * 0.3, ey - er * 0.9, x + er * 0.1, ey - er * 0.4], fill=(255, 255, 255))
        brow_y = ey - er * rng.uniform(1.7, 2.2)
        d.line([x - er, brow_y, x + er, brow_y - side * er * rng.uniform(-0.3, 0.3)], fill=hair, width=max(1, s // 64))

    # Mouth: smile, open or flat; sometimes blush.
    my = cy + fh * rng.uniform(0.45, 0.6)
    mw = fw * rng.uniform(0.18, 0.35)
    kind = rng.integers(3)
    if kind == 0:
        d.arc([cx - mw, my - mw * 0.6, cx + mw, my + mw * 0.6], 10, 170, fill=(120, 40, 40), width=max(1, s // 80))
    elif kind == 1:
        d.ellipse([cx - mw * 0.5, my - mw * 0.3, cx + mw * 0.5, my + mw * 0.5], fill=(170, 50, 60))
    else:
        d.line([cx - mw * 0.6, my, cx + mw * 0.6, my], fill=(120, 40, 40), width=max(1, s // 80))
    if rng.random() < 0.4:
        for side in (-1, 1):
            x = cx + side * ex * 1.15
            d.ellipse([x - er, my - fh * 0.22, x + er, my - fh * 0.12], fill=(240, 150, 150))
    return img.resize((size, size), Image.Resampling.LANCZOS)


def demo_faces(n: int, size: int = 64, first_seed: int = 0) -> np.ndarray:
    """-> uint8 [n, 3, size, size] faces for seeds first_seed .. first_seed + n - 1."""
    return np.stack([np.asarray(demo_face(first_seed + i, size)).transpose(2, 0, 1) for i in range(n)])


def write_demo_folder(folder: str | os.PathLike, n: int, size: int = 64, first_seed: int = 0,
                      fmt: str = "png") -> list[Path]:
    """Write n demo faces as image files (face-00000.png ...) and return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"face-{first_seed + i:05d}.{fmt}"
        demo_face(first_seed + i, size).save(path)
        paths.append(path)
    return paths
