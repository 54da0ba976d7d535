"""Showing faces: a selectable grid of faces with captions, and a single scalable image."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QDialog, QLabel, QListWidget, QListWidgetItem, QSizePolicy,
                               QToolTip, QVBoxLayout)

from studio.convert import to_pixmap, to_qimage
from studio.widgets.layout import on_enter


class FaceGrid(QListWidget):
    """Faces in a wrapping grid; click selects (Ctrl/Shift for more, arrow keys move), double-click or Enter
    enlarges."""

    enlarged = Signal(int)  # index of the face

    def __init__(self, face_size: int = 96, parent=None, placeholder: str = ""):
        super().__init__(parent)
        self.placeholder = placeholder  # said in the middle while there are no faces
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setUniformItemSizes(True)
        self.setSpacing(4)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # face-00012.png: its number, not its common prefix
        self.set_face_size(face_size)
        self.faces: np.ndarray = np.zeros((0, 3, 1, 1), np.uint8)
        self.itemDoubleClicked.connect(lambda item: self.enlarged.emit(self.row(item)))
        on_enter(self, lambda item: self.enlarged.emit(self.row(item)))

    def set_face_size(self, size: int) -> None:
        self.face_size = size
        self.setIconSize(QSize(size, size))
        self.setGridSize(QSize(size + 12, size + 24))

    def set_faces(self, faces: np.ndarray, captions: list[str] | None = None,
                  tooltips: list[str] | None = None) -> None:
        """faces: uint8 [N, 3, H, W]; captions under them (short), tooltips on hover (e.g. a whole path)."""
        self.faces = faces
        selected = {i.row() for i in self.selectedIndexes()}
        self.clear()
        for i, face in enumerate(faces):
            pixmap = to_pixmap(face).scaled(self.face_size, self.face_size, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.SmoothTransformation)
            item = QListWidgetItem(QIcon(pixmap), captions[i] if captions else "")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            if tooltips:
                item.setToolTip(tooltips[i])
            self.addItem(item)
            if i in selected:
                item.setSelected(True)

    def selected_rows(self) -> list[int]:
        return sorted(i.row() for i in self.selectedIndexes())

    def set_placeholder(self, text: str) -> None:
        self.placeholder = text
        self.viewport().update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().paintEvent(event)
        if self.count() == 0 and self.placeholder:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect().adjusted(24, 0, -24, 0),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            painter.end()


class ImageView(QLabel):
    """One image (a grid, a face) scaled to fit: by whole-number nearest-neighbour zooms so that pixels stay
    crisp, or smoothly (right-click > Smooth scaling), which suits one face enlarged many times."""

    def __init__(self, placeholder: str = "", parent=None):
        super().__init__(placeholder, parent)
        self.placeholder = placeholder
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(64, 64)
        self._pixmap: QPixmap | None = None
        self.image: np.ndarray | None = None
        # (x, y) in the image's own pixels -> the tooltip there ("" for none): what a cell of a figure shows
        self.describe: Callable[[int, int], str] | None = None
        self.smooth_action = QAction("Smooth scaling", self)
        self.smooth_action.setCheckable(True)
        self.smooth_action.toggled.connect(lambda _: self._rescale())
        self.addAction(self.smooth_action)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def set_smooth(self, on: bool) -> None:
        self.smooth_action.setChecked(on)

    def set_image(self, pixels: np.ndarray) -> None:
        """[H, W, 3] or [3, H, W] uint8."""
        self.image = pixels
        self._pixmap = QPixmap.fromImage(to_qimage(pixels))
        self._rescale()

    def clear_image(self) -> None:
        """Back to the placeholder text."""
        self.image, self._pixmap = None, None
        self.clear()
        self.setText(self.placeholder)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def image_position(self, pos: QPoint) -> tuple[int, int] | None:
        """Where a point of the view falls on the image, in the image's own pixels (None: off the image)."""
        shown = self.pixmap()
        if self._pixmap is None or shown is None or shown.isNull():
            return None
        w, h = self._pixmap.width(), self._pixmap.height()
        ox, oy = (self.width() - shown.width()) / 2, (self.height() - shown.height()) / 2
        x = math.floor((pos.x() - ox) * w / shown.width())
        y = math.floor((pos.y() - oy) * h / shown.height())
        return (x, y) if 0 <= x < w and 0 <= y < h else None

    def tooltip_at(self, pos: QPoint) -> str:
        where = self.image_position(pos) if self.describe is not None else None
        return self.describe(*where) if where is not None else ""

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip and self.describe is not None:
            text = self.tooltip_at(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def _rescale(self) -> None:
        if self._pixmap is None:
            return
        w, h = max(1, self.width()), max(1, self.height())
        pw, ph = self._pixmap.width(), self._pixmap.height()
        fit = min(w / pw, h / ph)
        k = int(fit)
        # a whole-number zoom keeps pixels crisp, if it fills most of the view (unless smooth scaling is chosen)
        if not self.smooth_action.isChecked() and k >= 1 and k >= 0.75 * fit:
            self.setPixmap(self._pixmap.scaled(pw * k, ph * k))
        else:  # smaller than the image, or a zoom between 1x and 2x that would leave much of the view empty
            self.setPixmap(self._pixmap.scaled(w, h, Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))


def show_enlarged(parent, face: np.ndarray, title: str) -> QDialog:
    """A window with one face, scaled with the window; a Smooth box picks smooth or pixel-exact scaling."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    dialog.view = view = ImageView()
    view.set_image(face)
    dialog.smooth = QCheckBox("Smooth")
    dialog.smooth.setToolTip("Smooth scaling; off shows the generated pixels as they are")
    dialog.smooth.toggled.connect(view.set_smooth)
    view.smooth_action.toggled.connect(dialog.smooth.setChecked)
    layout = QVBoxLayout(dialog)
    layout.addWidget(view, 1)
    layout.addWidget(dialog.smooth)
    dialog.resize(420, 450)
    dialog.show()
    return dialog
