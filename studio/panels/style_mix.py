"""Style mixing panel (StyleGAN2): row seeds give their coarse, middle or fine styles to column seeds' faces,
in a grid like the StyleGAN paper's figure; it updates live and exports as PNG."""

from __future__ import annotations

import os
import random

import numpy as np
from PySide6.QtWidgets import (QComboBox, QLabel, QLineEdit, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from studio.dialogs import IMAGE_FILTERS, ask_save_path
from studio.icons import set_icon
from studio.state import SavedFaces, StudioState
from studio.widgets.faces import ImageView
from studio.widgets.layout import row
from studio.widgets.truncation import TruncationSlider
from studio.workers import Renderer
from trainers.explore import Key, mix_grid, parse_seeds, same_file
from trainers.images import save_image
from trainers.inference import GeneratorModel

MAX_MIXED = 1024  # faces in one grid: 32 by 32 (a 256 px model's figure is then 8k pixels a side)
PRESETS = {"coarse (4-8 px)": "coarse", "middle (16-32 px)": "middle", "fine (64 px and up)": "fine", "custom": None}


class StyleMixPanel(QWidget):
    # kept for the next session; the preset after the layers, which make it "custom" as they are set (a custom
    # range is cut to the next model's layers when it opens)
    REMEMBERED = ("rows", "columns", "first", "last", "preset", "truncation")

    def __init__(self, state: StudioState, renderer: Renderer, parent=None):
        super().__init__(parent)
        self.state, self.renderer = state, renderer
        self.figure: np.ndarray | None = None
        self.mixed: np.ndarray | None = None
        # the figure's rows and columns ("seed 5", or a found face's file name) and its styles
        self.shown: tuple[list[str], list[str], str] | None = None
        self._found: SavedFaces | None = None  # saved faces with latents, each one's styles over each other one's
        self._lost = ""  # why the faces remembered from the last session cannot mix again

        self.rows = QLineEdit("1, 2, 3")
        self.rows.setToolTip("Source seeds, down the left: they give the chosen layers")
        self.columns = QLineEdit("10, 11, 12, 13, 14")
        self.columns.setToolTip("Destination seeds, along the top: they keep every other layer")
        self.preset = QComboBox(); self.preset.addItems(list(PRESETS))
        self.first = QSpinBox(); self.last = QSpinBox()
        self.first.setToolTip("First ws layer taken from the rows (custom range)")
        self.last.setToolTip("Last ws layer taken from the rows (custom range)")
        self.truncation = TruncationSlider()
        self.truncation_label = self.truncation.label
        self.random_button = QPushButton("Random seeds")
        set_icon(self.random_button, "dice")
        self.random_button.setToolTip("New random seeds for the rows and the columns, as many of each as now")
        self.save_button = QPushButton("Save grid…")
        set_icon(self.save_button, "grid")
        self.unavailable = QLabel("")
        self.unavailable.setWordWrap(True)
        self.view = ImageView("Open a StyleGAN2 model to mix styles")
        self.view.describe = self.describe  # hovering a face says which seeds made it

        layout = QVBoxLayout(self)
        layout.addWidget(self.unavailable)
        layout.addLayout(row(QLabel("Rows (sources)"), self.rows, QLabel("Columns (destinations)"), self.columns,
                             self.preset, QLabel("Layers"), self.first, QLabel("to"), self.last, QLabel("Truncation"),
                             self.truncation, self.truncation_label, self.random_button, self.save_button,
                             stretch=False))
        layout.addWidget(self.view, 1)

        for edit in (self.rows, self.columns):
            edit.editingFinished.connect(self.update_grid)
        self.preset.currentTextChanged.connect(self._on_preset)
        self.first.valueChanged.connect(self._on_custom)
        self.last.valueChanged.connect(self._on_custom)
        self.truncation.valueChanged.connect(self.update_grid)
        self.save_button.clicked.connect(lambda: self.save())
        self.random_button.clicked.connect(self.random_seeds)
        renderer.done.connect(self._on_rendered)
        renderer.failed.connect(lambda key, msg: key == "style-mix" and self._say(f"Error: {msg}"))
        state.model_changed.connect(self._on_model)
        self._set_available(None)

    def _say(self, text: str) -> None:
        """A message above the controls (why mixing is unavailable, a bad seed list); no empty line without one."""
        self.unavailable.setText(text)
        self.unavailable.setVisible(bool(text))

    def _set_available(self, model: GeneratorModel | None) -> None:
        ok = model is not None and model.info.style_based
        for w in (self.rows, self.columns, self.preset, self.first, self.last, self.truncation, self.random_button,
                  self.save_button):
            w.setEnabled(ok)
        if model is None:
            self._say("Open a StyleGAN2 model to mix styles.")
        elif not ok:
            self._say(f"Style mixing needs a StyleGAN2 model: {model.info.name} is a "
                                     f"{model.info.family}, whose single latent has no per-layer styles to swap.")
        else:
            self._say("")

    def _on_model(self, model: GeneratorModel) -> None:
        self._set_available(model)
        if not model.info.style_based:  # the last StyleGAN2 model's grid is not this model's
            self.figure = self.mixed = self.shown = None
            self.view.clear_image()
        if model.info.style_based:
            for box in (self.first, self.last):
                box.blockSignals(True)
                box.setRange(0, model.info.num_ws - 1)
                box.blockSignals(False)
            self._on_preset(self.preset.currentText())

    def _on_preset(self, text: str) -> None:
        model = self.state.model
        name = PRESETS[text]
        if model is not None and model.info.style_based and name is not None:
            layers = model.info.layers[name]
            for box, value in ((self.first, layers[0]), (self.last, layers[-1])):
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)
        self.update_grid()

    def _on_custom(self) -> None:
        if PRESETS[self.preset.currentText()] is not None:
            self.preset.blockSignals(True)
            self.preset.setCurrentText("custom")
            self.preset.blockSignals(False)
        self.update_grid()

    def set_seeds(self, rows: list[int], columns: list[int], truncation: float | None = None,
                  render: bool = True) -> None:
        """Mix these seeds' styles (at this truncation, e.g. the one their faces were seen at in Generate); with
        render False, the grid is made when the next model opens."""
        self._found, self._lost = None, ""
        self.rows.setText(", ".join(map(str, rows)))
        self.columns.setText(", ".join(map(str, columns)))
        if truncation is not None:
            self.truncation.set_psi(truncation, quiet=True)
        if render:
            self.update_grid()

    def set_faces(self, keys: list[Key], names: list[str], found_by: str, truncation: float | None = None,
                  render: bool = True, paths: list[str] | None = None) -> None:
        """Each of these faces' styles over each other one's face, where some are saved with their latents (found
        for pictures, or edited: their latents among the seeds, explore.Key; `names` names each of those, in order,
        and `paths` gives their files, so that the next session has them again) by the model at `found_by`: they
        cannot be typed in the seed fields, and they mix only with that model."""
        self._found, self._lost = SavedFaces.of(list(keys), names, paths or [], found_by), ""
        self.rows.setText(self._found.text)
        self.columns.setText(self._found.text)
        if truncation is not None:
            self.truncation.set_psi(truncation, quiet=True)
        if render:
            self.update_grid()

    def remembered_faces(self) -> str:
        """The saved faces the grid mixes, for the next session ("" for none)."""
        found = self._found
        same = found is not None and self.rows.text() == self.columns.text() == found.text
        return found.remembered() if same else ""

    def recall_faces(self, value: str) -> None:
        """The saved faces of the last session's grid (`remembered_faces`), read from their files again."""
        text = self.rows.text() if self.rows.text() == self.columns.text() else ""
        self._found, self._lost = SavedFaces.recall_for(value, text)

    def random_seeds(self) -> None:
        counts = []
        for edit, default in ((self.rows, 3), (self.columns, 5)):
            try:
                counts.append(len(parse_seeds(edit.text())) or default)
            except ValueError:
                counts.append(default)
        self.set_seeds(*([random.randrange(0, 100_000) for _ in range(count)] for count in counts))

    def layers(self) -> list[int]:
        return list(range(self.first.value(), max(self.first.value(), self.last.value()) + 1))

    def update_grid(self) -> None:
        model = self.state.model
        if model is None or not model.info.style_based:
            return
        try:
            rows, cols, row_labels, column_labels = self._faces(model)
        except ValueError as exc:
            self._say(str(exc))
            return
        if not rows or not cols:
            self._say("Give at least one row seed and one column seed.")
            return
        if len(rows) * len(cols) > MAX_MIXED:
            self._say(f"{len(rows):,} rows by {len(cols):,} columns are {len(rows) * len(cols):,} mixed faces: at most "
                      f"{MAX_MIXED:,} at a time (e.g. 32 by 32).")
            return
        self._say("")
        layers, psi = self.layers(), self.truncation.psi()
        styles = self.preset.currentText().split(" (")[0] if PRESETS[self.preset.currentText()] else "chosen"
        what = f"{styles} styles (layers {layers[0]}-{layers[-1]})"
        self.renderer.submit("style-mix", lambda: ((row_labels, column_labels, what),
                                                   *mix_grid(model, rows, cols, layers, psi)))

    def _faces(self, model: GeneratorModel) -> tuple[list[Key], list[Key], list[str], list[str]]:
        """The rows' and columns' faces (seeds, or found faces' latents) and how each is named; ValueError with what
        is wrong."""
        found = self._found
        if found is not None and self.rows.text() == self.columns.text() == found.text:
            if not same_file(found.model, model.info.path):
                raise ValueError(f"These faces were made by {os.path.basename(found.model)}: open it to mix their "
                                 "styles")
            return found.keys, found.keys, found.labels, found.labels
        if "[" in self.rows.text() + self.columns.text():
            raise ValueError(f"{self._lost}: drop the saved faces on this tab again." if self._lost else
                             "Faces found for pictures or edited cannot be typed among the seeds: drop their saved "
                             "faces on this tab.")
        rows, cols = parse_seeds(self.rows.text()), parse_seeds(self.columns.text())
        return rows, cols, [f"seed {s}" for s in rows], [f"seed {s}" for s in cols]

    def _on_rendered(self, key: str, result) -> None:
        if key == "style-mix":
            self.shown, self.figure, self.mixed = result
            self.view.set_image(self.figure)

    def describe(self, x: int, y: int) -> str:
        """What the figure shows at (x, y): a row's or column's source face, or the mix of the two."""
        if self.mixed is None or self.shown is None:
            return ""
        rows, cols, what = self.shown
        size = self.mixed.shape[-1]
        r, c = y // size - 1, x // size - 1
        if r < 0 and c < 0:
            return ""
        def first(label: str) -> str:  # at the start of a sentence
            return "S" + label[1:] if label.startswith("seed ") else label

        if r < 0:
            return f"{first(cols[c])}: the face that takes the rows' {what}"
        if c < 0:
            return f"{first(rows[r])}: gives its {what} to the faces in its row"
        return f"{first(cols[c])}'s face with {rows[r]}'s {what}"

    def save(self, path: str | None = None) -> str | None:
        if self.figure is None:
            return None
        model = self.state.model
        name = f"{model.info.stem}-style-mixing.png" if model else "style-mixing.png"
        path = path or ask_save_path(self, self.state, "Save style-mixing grid", name, IMAGE_FILTERS)
        if path:
            try:
                save_image(path, self.figure, {"rows": self.rows.text(), "columns": self.columns.text(),
                                               "layers": f"{self.first.value()}-{self.last.value()}",
                                               "model": self.state.model.info.path if self.state.model else ""})
            except (OSError, ValueError) as exc:
                self._say(f"Cannot write {path}: {exc}")
                return None
        return path or None
