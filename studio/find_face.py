"""*Find a face like…*: the open model's face most like a picture (trainers.projection), searched in the
background in a window of its own: the picture, the closest seed's face, and the face found so far, live, with a
progress bar and Cancel; then how close it came, and *Save face…*."""

from __future__ import annotations

import os
import threading

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QLabel, QProgressBar, QPushButton, QVBoxLayout

from studio.dialogs import save_face
from studio.icons import set_icon
from studio.state import StudioState
from studio.widgets.faces import ImageView
from studio.widgets.layout import captioned, row
from studio.workers import Call
from trainers import projection
from trainers.explore import COPY_DISTANCE, DISTANCE_SCALE, latent_metadata
from trainers.images import RejectedImage, read_file
from trainers.inference import GeneratorModel, ModelError, TorchGenerator, open_model


class _Search(Call):
    """The search, on its own copy of the model (the panels keep rendering with theirs meanwhile)."""

    thread_name = "find-face"
    picture = Signal(object)  # uint8 [3, R, R]: the picture as the model sees it
    step = Signal(int, int, object)  # done, total, the closest face so far

    def __init__(self, model: GeneratorModel, path: str, parent=None):
        self.model_path, self.path = model.info.path, path
        self.cancelled = threading.Event()
        super().__init__(self._find, expected=(ModelError, InterruptedError, ValueError), parent=parent)

    def _find(self) -> projection.Found:
        model = open_model(self.model_path)
        try:
            picture = projection.picture_for(model, read_file(self.path))
        except RejectedImage as exc:
            raise ValueError(f"{os.path.basename(self.path)}: {exc}") from None
        self.picture.emit(picture)

        def each(done: int, total: int, face: np.ndarray) -> None:
            if self.cancelled.is_set():
                raise InterruptedError("cancelled")
            self.step.emit(done, total, face)

        return projection.find_face(model, picture, steps=projection.STEPS, search=projection.SEARCH, each=each)


class FindFaceDialog(QDialog):
    def __init__(self, parent, state: StudioState, model: GeneratorModel, path: str):
        super().__init__(parent)
        self.state, self.model, self.path = state, model, path
        self.found: projection.Found | None = None
        self._ended = False
        name = os.path.basename(path)
        self.setWindowTitle(f"A face like {name} — {model.info.label}")
        self.picture_view = ImageView("Reading …")
        self.seed_view = ImageView("")
        self.found_view = ImageView("Searching …")
        for view in (self.picture_view, self.seed_view, self.found_view):
            view.setMinimumSize(160, 160)
        self.picture_view.setToolTip(f"{path}, cropped and resized as training images are")
        self.seed_view.setToolTip("The seed whose face was closest to the picture, where the search began")
        self.found_view.setToolTip("The model's face most like the picture")
        self.progress = QProgressBar()
        self.message = QLabel(
            f"Looking among {model.info.label}'s faces for the one most like {name}: first among "
            f"{projection.SEARCH} seeds' faces, then refining the closest "
            + ("by gradient descent." if isinstance(model, TorchGenerator) else
               "without gradients (this is an exported model; its checkpoint would come closer, sooner)."))
        self.message.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.save_button = QPushButton("Save face…")
        self.save_button.setEnabled(False)
        set_icon(self.save_button, "export")
        self.edit_button = QPushButton("Edit face…")
        self.edit_button.setToolTip("The face found, moved along the directions in which the model's faces vary "
                                    "most, with a slider each")
        self.edit_button.setEnabled(False)
        set_icon(self.edit_button, "sliders")
        layout = QVBoxLayout(self)
        self.seed_caption = QLabel("The closest seed's face")
        layout.addLayout(captioned((QLabel(f"The picture: {name}"), self.picture_view),
                                   (self.seed_caption, self.seed_view),
                                   (QLabel("The face found"), self.found_view)), 1)
        layout.addWidget(self.progress)
        buttons = row(self.message, self.cancel_button, self.edit_button, self.save_button, stretch=False)
        buttons.setStretch(0, 1)
        layout.addLayout(buttons)
        self.resize(760, 400)

        self.search = _Search(model, path, self)
        self.search.picture.connect(self.picture_view.set_image)
        self.search.step.connect(self._on_step)
        self.search.finished.connect(self._on_found)
        self.search.failed.connect(self._on_failed)
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button.clicked.connect(lambda: self.save())
        self.search.start()

    def searching(self) -> bool:
        """Until the search's end (found, failed or cancelled) is shown."""
        return not self._ended

    def cancel(self) -> None:
        self.search.cancelled.set()

    def _on_step(self, done: int, total: int, face: np.ndarray) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.found_view.set_image(face)

    def _on_found(self, found: projection.Found) -> None:
        self.found, self._ended = found, True
        self.seed_view.set_image(found.seed_face)
        self.seed_caption.setText(f"Seed {found.seed}'s face, where the search began")
        self.found_view.set_image(found.face)
        self.progress.setValue(self.progress.maximum())
        self.cancel_button.setEnabled(False)
        self.save_button.setEnabled(True)
        self.edit_button.setEnabled(True)
        self.message.setText(
            f"Found {found.distance:.3f} away from the picture; seed {found.seed}'s face, where the search began, was "
            f"{found.seed_distance:.3f} away. Distance: {DISTANCE_SCALE}. A copy of a picture is under "
            f"{COPY_DISTANCE}, and two random faces are about 1.25 apart.")

    def _on_failed(self, message: str) -> None:
        self._ended = True
        self.cancel_button.setEnabled(False)
        self.message.setText("Cancelled." if message == "cancelled" else f"Cannot find a face like it: {message}")

    def save(self, path: str | None = None) -> str | None:
        """The face found, as a PNG (or JPEG, WebP) whose text records its model, the picture and its latent."""
        found = self.found
        if found is None:
            return None
        stem = os.path.splitext(os.path.basename(self.path))[0]
        text = latent_metadata(self.model, found.space, found.key, self.path, found.distance)
        return save_face(self, self.state, self.message, "Save the face found", f"{stem}-found.png", found.face, text,
                         path)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.cancel()  # a search nobody waits for stops at its next step
        super().closeEvent(event)
