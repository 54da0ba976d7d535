"""*Edit face…*: one face moved along the directions in which the open model's faces vary most (trainers.directions,
GANSpace), with a slider for each, in a window of its own. The directions are found in the background (seconds, once
per model and session); every move of a slider draws the edited face in the background too; *Save face…* writes it
with its latent, so that it can be made again, walked through and style-mixed."""

from __future__ import annotations

import os
import threading

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QGridLayout, QLabel, QProgressBar, QPushButton, QSlider,
                               QVBoxLayout)

from studio.dialogs import save_face
from studio.icons import set_icon
from studio.state import StudioState
from studio.widgets.faces import ImageView
from studio.widgets.layout import captioned, row
from studio.workers import Call, Renderer
from trainers import directions as dirs
from trainers.explore import Key, latent_faces, latent_metadata
from trainers.inference import GeneratorModel, ModelError

SLIDER_LIMIT = 3.0  # standard deviations each way: beyond, most faces break up
SLIDER_STEPS = 10  # slider positions per standard deviation
LAYER_CHOICES = {"all layers": "", "coarse (4-8 px: pose, face shape)": "coarse",
                 "middle (16-32 px: features, hair style)": "middle", "fine (64 px and up: colours)": "fine"}

# A model's directions, once found in a session: (path, modification time, size) -> Directions
_found: dict[tuple[str, int, int], dirs.Directions] = {}


def _model_key(model: GeneratorModel) -> tuple[str, int, int]:
    try:
        st = os.stat(model.info.path)
        return os.path.abspath(model.info.path), st.st_mtime_ns, st.st_size
    except OSError:
        return os.path.abspath(model.info.path), 0, 0


class _Start(Call):
    """The model's directions (unless found before), and the latent and face the edits start from."""

    thread_name = "edit-face"

    def __init__(self, model: GeneratorModel, key: Key, truncation: float, parent=None):
        self.model, self.key, self.truncation = model, key, truncation
        self.known = _found.get(_model_key(model))
        self.cancelled = threading.Event()
        super().__init__(self._start, expected=(ModelError, InterruptedError, ValueError), parent=parent)

    def _start(self) -> tuple[dirs.Directions, np.ndarray, np.ndarray]:
        def each(done: int, total: int) -> None:
            if self.cancelled.is_set():
                raise InterruptedError("cancelled")
            self.progress.emit(done, total)

        found = self.known or dirs.principal_directions(self.model, each=each)
        latent = dirs.base_latent(self.model, self.key, self.truncation)
        space = "ws" if self.model.info.style_based else "z"
        return found, latent, latent_faces(self.model, space, latent[None])[0]


class EditFaceDialog(QDialog):
    walk = Signal(list, list)  # [the face's latent, its edit's] and their names: a walk from one to the other and back

    def __init__(self, parent, state: StudioState, renderer: Renderer, model: GeneratorModel, key: Key, name: str,
                 truncation: float = 1.0, picture: str = "", earlier: str = ""):
        """key: a seed, or a saved face's latent (explore.Key); name: how it is named ('seed 7', 'the face found for
        me.png'); picture, earlier: what a face saved with its latent records (the picture it was found for, its
        earlier edit), kept in the edited face's record."""
        super().__init__(parent)
        self.state, self.renderer, self.model = state, renderer, model
        self.name, self.picture, self.earlier = name, picture, earlier
        self.directions: dirs.Directions | None = None
        self.start_latent: np.ndarray | None = None
        self.latent: np.ndarray | None = None  # the edited face's, as last drawn
        self.face: np.ndarray | None = None
        self._render_key = f"edit-face-{id(self)}"
        self._asked = self._shown = 0  # edits asked for, and the one whose face is shown
        self.edit = ""  # how the face shown was edited (what its saved record says)
        style = model.info.style_based
        self.setWindowTitle(f"Edit {name} — {model.info.label}")

        self.start_view, self.edited_view = ImageView("…"), ImageView("Finding the directions …")
        for view in (self.start_view, self.edited_view):
            view.setMinimumSize(192, 192)
        self.progress = QProgressBar()
        self.message = QLabel(f"Finding the directions in which {model.info.label}'s faces vary most …")
        self.message.setWordWrap(True)
        self.sliders: list[QSlider] = []
        self.values: list[QLabel] = []
        self.labels: list[QLabel] = []
        sliders = QGridLayout()
        limit = int(SLIDER_LIMIT * SLIDER_STEPS)
        for k in range(dirs.COUNT):
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(-limit, limit)
            slider.setPageStep(SLIDER_STEPS)
            slider.setEnabled(False)
            value = QLabel("0")
            value.setMinimumWidth(34)
            label = QLabel(f"Direction {k + 1}")
            slider.valueChanged.connect(lambda _, k=k: self._on_slider(k))
            sliders.addWidget(label, k, 0)
            sliders.addWidget(slider, k, 1)
            sliders.addWidget(value, k, 2)
            self.sliders.append(slider)
            self.values.append(value)
            self.labels.append(label)
        sliders.setColumnStretch(1, 1)
        self.layers = QComboBox(self)  # (a DCGAN's window has it hidden, in no layout)
        self.layers.addItems(list(LAYER_CHOICES))
        self.layers.setToolTip("StyleGAN2: the layers an edit moves; the others keep the face's own styles (coarse "
                               "alone can turn a head and keep its colours)")
        self.layers.setVisible(style)
        self.layers.currentIndexChanged.connect(lambda _: self._draw())
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Every slider back to 0: the face as it was")
        self.save_button = QPushButton("Save face…")
        self.save_button.setToolTip("The edited face as a PNG that records its latent: drop it on the window to edit "
                                    "it again, on Interpolate to walk through it, on Style mixing to mix its styles")
        set_icon(self.save_button, "export")
        self.walk_button = QPushButton("Walk to it")
        self.walk_button.setToolTip("On Interpolate: a loop from the face to its edit and back, to play or export as "
                                    "a GIF or MP4")
        set_icon(self.walk_button, "interpolate")
        for button in (self.reset_button, self.walk_button, self.save_button):
            button.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addLayout(captioned((QLabel(f"The face: {name}"), self.start_view),
                                   (QLabel("Edited"), self.edited_view)), 1)
        layout.addWidget(self.progress)
        layout.addLayout(sliders)
        if style:
            layout.addLayout(row(QLabel("Move"), self.layers))
        buttons = row(self.message, self.reset_button, self.walk_button, self.save_button, stretch=False)
        buttons.setStretch(0, 1)
        layout.addLayout(buttons)
        self.resize(640, 720)

        self.reset_button.clicked.connect(self.reset)
        self.save_button.clicked.connect(lambda: self.save())
        self.walk_button.clicked.connect(self._walk)
        renderer.done.connect(self._on_rendered)
        renderer.failed.connect(lambda key, message: key == self._render_key
                                and self.message.setText(f"Cannot draw the face: {message}"))
        self.start_job = _Start(model, key, truncation, self)
        self.start_job.progress.connect(self._on_progress)
        self.start_job.finished.connect(self._on_started)
        self.start_job.failed.connect(self._on_failed)
        self.start_job.start()

    def ready(self) -> bool:
        """The directions are found and the face they start from is drawn."""
        return self.directions is not None

    def busy(self) -> bool:
        """Still starting, or drawing an edit the window does not show yet."""
        return self.start_job.is_running() or (self.ready() and self._asked != self._shown)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _on_started(self, result) -> None:
        self.directions, self.start_latent, face = result
        _found[_model_key(self.model)] = self.directions
        self.latent, self.face, self.edit = self.start_latent, face, self.edit_text()
        self.start_view.set_image(face)
        self.edited_view.set_image(face)
        self.progress.hide()
        for k, (slider, label) in enumerate(zip(self.sliders, self.labels)):
            there = k < len(self.directions.vectors)
            slider.setEnabled(there)
            if there:
                tip = (f"{self.directions.describe(k).capitalize()} among this model's faces; the slider moves the "
                       "face along it, in standard deviations of the model's own faces")
                slider.setToolTip(tip)
                label.setToolTip(tip)
                label.setText(f"{k + 1} ({self.directions.share[k]:.0%})")
        for button in (self.reset_button, self.walk_button, self.save_button):
            button.setEnabled(True)
        self.message.setText("Move a slider: each direction is one the model's faces vary along (the first, the "
                             "most), found without names; what it changes shows as you move it.")

    def _on_failed(self, message: str) -> None:
        self.progress.hide()
        self.edited_view.clear_image()
        self.message.setText("Cancelled." if message == "cancelled" else f"Cannot edit this face: {message}")

    def amounts(self) -> dict[int, float]:
        """The sliders' amounts (standard deviations), by direction (from 0), the ones not at 0."""
        return {k: s.value() / SLIDER_STEPS for k, s in enumerate(self.sliders) if s.value()}

    def set_amounts(self, amounts: dict[int, float]) -> None:
        """Move the sliders (and draw the face once)."""
        for k, slider in enumerate(self.sliders):
            slider.blockSignals(True)
            slider.setValue(round(amounts.get(k, 0.0) * SLIDER_STEPS))
            slider.blockSignals(False)
            self.values[k].setText(f"{slider.value() / SLIDER_STEPS:+g}" if slider.value() else "0")
        self._draw()

    def reset(self) -> None:
        self.set_amounts({})

    def _layers(self) -> tuple[list[int] | None, str]:
        name = LAYER_CHOICES[self.layers.currentText()]
        return (self.model.info.layers[name], name) if name and self.model.info.style_based else (None, "")

    def _on_slider(self, k: int) -> None:
        value = self.sliders[k].value()
        self.values[k].setText(f"{value / SLIDER_STEPS:+g}" if value else "0")
        self._draw()

    def _draw(self) -> None:
        """The edited face, drawn in the background (the latest of quick moves only)."""
        if self.directions is None:
            return
        layers, _ = self._layers()
        latent = dirs.edited(self.directions, self.start_latent, self.amounts(), layers)
        model, space, edit = self.model, "ws" if self.model.info.style_based else "z", self.edit_text()
        self._asked += 1
        asked = self._asked
        self.renderer.submit(self._render_key,
                             lambda: (asked, latent, latent_faces(model, space, latent[None])[0], edit))

    def _on_rendered(self, key: str, result) -> None:
        if key != self._render_key or result is None:
            return
        self._shown, self.latent, self.face, self.edit = result
        self.edited_view.set_image(self.face)

    def _walk(self) -> None:
        if self.start_latent is None or self.latent is None:
            return
        if np.array_equal(self.latent, self.start_latent):
            self.message.setText("Move a slider first: the walk goes from the face to its edit and back")
            return
        self.walk.emit([self.start_latent.copy(), self.latent.copy()], [self.name.split(",")[0], "edited"])

    def edit_text(self) -> str:
        """What a face saved with the sliders as they are records of its making."""
        return dirs.describe_edit(self.amounts(), self._layers()[1], self.name, self.earlier)

    def save(self, path: str | None = None) -> str | None:
        """The edited face as shown, as a PNG (or JPEG, WebP) that records its latent and its edit."""
        if self.latent is None or self.face is None:
            return None
        space = "ws" if self.model.info.style_based else "z"
        text = latent_metadata(self.model, space, self.latent, self.picture, edit=self.edit)
        return save_face(self, self.state, self.message, "Save the edited face", f"{self.model.info.stem}-edited.png",
                         self.face, text, path)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.start_job.cancelled.set()
        super().closeEvent(event)
