"""Save and export dialogs: they open where the user last saved something (else the Pictures folder), with
a file name that says what the file holds, so that one export does not suggest overwriting another's
`grid.png`."""

from __future__ import annotations

import os
import re

import numpy as np
from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QLabel, QWidget

from studio.state import StudioState
from trainers.images import save_image


IMAGE_FILTERS = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp)"  # trainers.images.save_image writes each


def export_folder(state: StudioState) -> str:
    """Where the next save dialog opens."""
    if state.export_folder and os.path.isdir(state.export_folder):
        return state.export_folder
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return pictures if pictures and os.path.isdir(pictures) else os.path.expanduser("~")


def ask_save_path(parent: QWidget, state: StudioState, title: str, name: str, filters: str) -> str:
    """The path the user chose for a new file ("" when cancelled); its folder becomes the next dialogs' start.

    A name typed without a suffix takes the chosen filter's (grid + "JPEG (*.jpg *.jpeg)" -> grid.jpg), as
    native dialogs do; a filter whose pattern is a bare * (PNG frames into a folder) keeps the name as it is."""
    path, chosen = QFileDialog.getSaveFileName(parent, title, os.path.join(export_folder(state), name), filters)
    if path:
        suffix = re.search(r"\(\*(\.\w+)", chosen or "")
        if suffix and not os.path.splitext(os.path.basename(path))[1]:
            path += suffix.group(1)
        state.export_folder = os.path.dirname(path)
    return path


def ask_export_folder(parent: QWidget, state: StudioState, title: str) -> str:
    """A folder the user chose to write files into ("" when cancelled)."""
    folder = QFileDialog.getExistingDirectory(parent, title, export_folder(state))
    if folder:
        state.export_folder = folder
    return folder


def save_face(parent: QWidget, state: StudioState, message: QLabel, title: str, name: str, face: np.ndarray,
              text: dict[str, str], path: str | None = None) -> str | None:
    """One face (uint8 [3, R, R]) with its record `text`, as a PNG, JPEG or WebP the user names (starting from
    `name`) unless a path is given; `message` says where it went, or why it could not be written."""
    path = path or ask_save_path(parent, state, title, name, IMAGE_FILTERS)
    if not path:
        return None
    try:
        save_image(path, face.transpose(1, 2, 0), text)
    except (OSError, ValueError) as exc:
        message.setText(f"Cannot write {path}: {exc}")
        return None
    message.setText(f"Saved {path}")
    return path
