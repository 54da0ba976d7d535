"""numpy uint8 images -> QImage / QPixmap, on the GUI thread only."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap


def to_qimage(pixels: np.ndarray) -> QImage:
    """[H, W, 3] or [3, H, W] uint8 -> a QImage that owns its buffer."""
    if pixels.ndim == 3 and pixels.shape[0] == 3 and pixels.shape[2] != 3:
        pixels = pixels.transpose(1, 2, 0)
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    h, w, _ = pixels.shape
    return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_pixmap(pixels: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(pixels))
