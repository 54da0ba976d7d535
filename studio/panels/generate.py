"""Generate panel: faces for a seed range or random seeds, truncation for StyleGAN2, enlarge, select, export."""

from __future__ import annotations

import os
import random

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QApplication, QDialog, QFileDialog, QLabel, QProgressDialog, QPushButton, QSlider,
                               QSpinBox, QVBoxLayout, QWidget)

from studio.dialogs import IMAGE_FILTERS, ask_export_folder, ask_save_path, export_folder
from studio.edit_face import EditFaceDialog
from studio.find_face import FindFaceDialog
from studio.icons import set_icon
from studio.state import StudioState
from studio.widgets.faces import FaceGrid, ImageView, show_enlarged
from studio.widgets.layout import row
from studio.widgets.truncation import TruncationSlider
from studio.workers import Renderer
from trainers.explore import (COPY_DISTANCE, DISTANCE_SCALE, export_faces, grid_filename, grid_metadata,
                              nearest_images, nearest_sheet)
from trainers.images import IMAGE_EXTENSIONS, make_grid, save_image, sheet_cell
from trainers.inference import GeneratorModel


RENDER_CHUNK = 32  # faces rendered at a time: progress shows and a newer request cuts in between parts
NEAREST_FACES = 8  # faces looked up at a time in the dataset (the selected ones, else the first)
NEAREST_K = 5  # real faces shown beside each


class GeneratePanel(QWidget):
    interpolate_seeds = Signal(list)  # seeds the user wants to walk between
    mix_seeds = Signal(list)  # StyleGAN2 seeds whose styles the user wants to mix with one another
    walk_faces = Signal(list, list, str)  # latents to walk through, their names, and their model's path
    REMEMBERED = ("first_seed", "count", "truncation", "size_slider")  # kept for the next session

    def __init__(self, state: StudioState, renderer: Renderer, parent=None):
        super().__init__(parent)
        self.state, self.renderer = state, renderer
        self.seeds: list[int] = []
        self.rendered_truncation = 1.0
        self._select_seed: int | None = None  # a face to select once it is drawn (a saved face opened again)
        self._dialogs = []

        self.info = QLabel("No model open: File > Open model, or train one.")
        self.info.setWordWrap(True)
        self.first_seed = QSpinBox(); self.first_seed.setRange(0, 2**31 - 1)
        self.count = QSpinBox(); self.count.setRange(1, 1024); self.count.setValue(32)
        self.random_button = QPushButton("Random seeds")
        self.truncation = TruncationSlider()
        self.truncation_label = self.truncation.label
        self.first_seed.setToolTip("Face i shows seed first + i; the same seed always gives the same face")
        self.export_selected = QPushButton("Export selected…")
        self.export_all = QPushButton("Export all…")
        self.save_grid = QPushButton("Save grid…")
        self.send_button = QPushButton("Interpolate selected")
        self.send_button.setToolTip("Walk between the selected faces in the Interpolate panel")
        self.mix_button = QPushButton("Style-mix selected")
        self.mix_button.setToolTip("StyleGAN2: each selected face's styles over each other's, in the Style mixing panel")
        self.find_button = QPushButton("Find a face like…")
        self.find_button.setToolTip("The model's face most like a picture of your choice (or drop a picture on the "
                                    "window): can it draw that face? Searched in the background")
        self.edit_button = QPushButton("Edit face…")
        self.edit_button.setToolTip("The selected face moved along the directions in which the model's faces vary "
                                    "most (hair colour, skin, pose…), with a slider each, in a window of its own")
        self.nearest_button = QPushButton("Nearest real faces")
        self.nearest_button.setToolTip(f"For each selected face (else the first {NEAREST_FACES}), the {NEAREST_K} "
                                       "images of the open dataset most like it: a model that copies its training "
                                       "images shows the same picture beside its face")
        for button, name in ((self.random_button, "dice"), (self.export_selected, "export"), (self.export_all, "export"),
                             (self.save_grid, "grid"), (self.send_button, "interpolate"),
                             (self.mix_button, "style-mix"), (self.nearest_button, "dataset"),
                             (self.find_button, "generate"), (self.edit_button, "sliders")):
            set_icon(button, name)
        self.size_slider = QSlider(Qt.Orientation.Horizontal); self.size_slider.setRange(48, 256); self.size_slider.setValue(96)
        self.grid = FaceGrid(96, placeholder="Faces appear here once a model is open: train one (the Train tab), "
                                             "double-click a checkpoint there, or File > Open model (Ctrl+O).")
        self.status = QLabel("")
        self.status.setWordWrap(True)  # a long message wraps rather than widen the window

        layout = QVBoxLayout(self)
        layout.addWidget(self.info)
        layout.addLayout(row(QLabel("First seed"), self.first_seed, QLabel("Count"), self.count, self.random_button,
                             QLabel("Truncation"), self.truncation, self.truncation_label, QLabel("Size"),
                             self.size_slider))
        layout.addWidget(self.grid, 1)
        buttons = row(self.export_selected, self.export_all, self.save_grid, self.send_button, self.mix_button,
                      self.nearest_button, self.edit_button, self.find_button, self.status, stretch=False)
        buttons.setStretchFactor(self.status, 1)  # the message takes the rest of the row
        layout.addLayout(buttons)
        self._add_face_menu()

        self.first_seed.valueChanged.connect(self.render)
        self.count.valueChanged.connect(self.render)
        self.truncation.valueChanged.connect(self.render)
        self.random_button.clicked.connect(lambda: self.first_seed.setValue(random.randrange(0, 2**31 - 1024)))
        self.size_slider.valueChanged.connect(self._on_size)
        self.grid.enlarged.connect(self._enlarge)
        self.export_selected.clicked.connect(lambda: self.export(selected_only=True))
        self.export_all.clicked.connect(lambda: self.export(selected_only=False))
        self.save_grid.clicked.connect(self.save_grid_png)
        self.send_button.clicked.connect(self._send_selection)
        self.mix_button.clicked.connect(self._mix_selection)
        self.nearest_button.clicked.connect(self.nearest)
        self.find_button.clicked.connect(lambda: self.find_face())
        self.edit_button.clicked.connect(lambda: self.edit_face())
        self.renderer.done.connect(self._on_rendered)
        self.renderer.progress.connect(self._on_progress)
        self.renderer.failed.connect(lambda key, msg: key in ("generate", "nearest")
                                     and self.status.setText(f"Error: {msg}"))
        state.model_changed.connect(self._on_model)
        self._set_enabled(False)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.first_seed, self.count, self.random_button, self.export_selected, self.export_all, self.save_grid,
                  self.send_button, self.nearest_button, self.find_button, self.edit_button):
            w.setEnabled(on)
        model = self.state.model
        style_based = on and model is not None and model.info.style_based
        self.truncation.setEnabled(style_based)
        self.mix_button.setEnabled(style_based)
        self.mix_action.setEnabled(style_based)

    def _add_face_menu(self) -> None:
        """Right-click on the faces: the same actions as the buttons, and copying the selected seeds."""
        def action(text: str, slot, shortcut: str | None = None) -> QAction:
            act = QAction(text, self.grid)
            act.triggered.connect(slot)
            if shortcut:
                act.setShortcut(shortcut)
                act.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.grid.addAction(act)
            return act

        action("Enlarge", lambda: self.grid.selected_rows() and self._enlarge(self.grid.selected_rows()[0]))
        action("Copy seeds", self.copy_seeds, "Ctrl+C")
        action("Export selected…", lambda: self.export(selected_only=True))
        action("Interpolate selected", self._send_selection)
        self.mix_action = action("Style-mix selected", self._mix_selection)
        action("Nearest real faces", self.nearest)
        action("Edit face…", lambda: self.edit_face())
        action("Find a face like…", lambda: self.find_face())
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def selected_seeds(self) -> list[int]:
        return [self.seeds[i] for i in self.grid.selected_rows()]

    def copy_seeds(self) -> None:
        """The selected faces' seeds to the clipboard, as the seed fields elsewhere read them ("3, 14, 27")."""
        seeds = self.selected_seeds()
        if not seeds:
            self.status.setText("Select faces first (click, Ctrl+click, Shift+click)")
            return
        QApplication.clipboard().setText(", ".join(map(str, seeds)))
        self.status.setText(f"Copied {len(seeds)} seed{'s' if len(seeds) != 1 else ''}")

    def _on_model(self, model: GeneratorModel) -> None:
        info = model.info
        self.info.setText(f"<b>{info.label}</b> — {info.family}, {info.resolution}px, step {info.step:,}, "
                          f"{info.images_seen:,} images seen · runs on {info.provider}")
        self._set_enabled(True)
        self.render()

    def truncation_value(self) -> float:
        model = self.state.model
        return self.truncation.psi() if model is not None and model.info.style_based else 1.0

    def _on_size(self, size: int) -> None:
        self.grid.set_face_size(size)
        if len(self.grid.faces):
            self.grid.set_faces(self.grid.faces, [f"seed {s}" for s in self.seeds])

    def show_seeds(self, first: int, count: int, truncation: float, render: bool = True) -> None:
        """Go to these seeds' faces at this truncation (a saved face or grid opened again); the first is selected
        once drawn. render=False when the model about to open will draw them."""
        for box, value in ((self.first_seed, first), (self.count, count)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        self.truncation.set_psi(truncation, quiet=True)
        self._select_seed = first
        if render:
            self.render()

    def render(self) -> None:
        model = self.state.model
        if model is None:
            return
        seeds = list(range(self.first_seed.value(), self.first_seed.value() + self.count.value()))
        psi = self.truncation_value()
        self.status.setText("Rendering …")
        renderer = self.renderer

        def job():
            """In parts, reporting progress; given up when a newer request (other seeds, another ψ) waits."""
            parts = []
            for i in range(0, len(seeds), RENDER_CHUNK):
                if i and renderer.superseded("generate"):
                    return None
                parts.append(model.generate(seeds[i : i + RENDER_CHUNK], truncation=psi))
                if len(seeds) > RENDER_CHUNK:
                    renderer.progress.emit("generate", min(i + RENDER_CHUNK, len(seeds)), len(seeds))
            return seeds, psi, np.concatenate(parts)

        renderer.submit("generate", job)

    def _on_progress(self, key: str, done: int, total: int) -> None:
        if key == "generate" and done < total:
            self.status.setText(f"Rendering {done:,} of {total:,} faces …")

    def _on_rendered(self, key: str, result) -> None:
        if key == "nearest" and result is not None:
            self._show_nearest(*result)
            return
        if key != "generate" or result is None:
            return
        self.seeds, self.rendered_truncation, faces = result
        self.grid.set_faces(faces, [f"seed {s}" for s in self.seeds])
        if self._select_seed is not None and self.seeds[0] == self.first_seed.value():  # what was last asked for
            if self._select_seed in self.seeds:
                item = self.grid.item(self.seeds.index(self._select_seed))
                self.grid.clearSelection()
                item.setSelected(True)
                self.grid.scrollToItem(item)
            self._select_seed = None
        self.status.setText(f"{len(self.seeds)} faces")

    def _send_selection(self) -> None:
        self._send_seeds(self.interpolate_seeds, "walk between")

    def _mix_selection(self) -> None:
        self._send_seeds(self.mix_seeds, "mix their styles")

    def _send_seeds(self, signal, purpose: str) -> None:
        seeds = self.selected_seeds()
        if len(seeds) < 2:
            self.status.setText(f"Select two or more faces to {purpose}")
            return
        signal.emit(seeds)

    def nearest(self) -> None:
        """The dataset's images most like the selected faces (else the first few), found in the background and
        shown in a window: one row per face, the face first."""
        model, images = self.state.model, self.state.dataset
        if model is None or not len(self.grid.faces):
            return
        rows = self.grid.selected_rows()[:NEAREST_FACES] or list(range(min(NEAREST_FACES, len(self.seeds))))
        if images is None:
            self.status.setText("Open a dataset (the Dataset tab) to look for the real faces most like these")
            return
        faces, seeds = self.grid.faces[rows], [self.seeds[i] for i in rows]
        self.status.setText(f"Looking for the real faces most like {len(rows)} of these among {len(images):,} …")
        renderer = self.renderer

        def job():
            try:
                nearest = nearest_images(faces, images.images, k=NEAREST_K,
                                         cancel=lambda: renderer.superseded("nearest"))
            except InterruptedError:  # a newer look-up waits (or the studio closes): this one is not wanted
                return None
            return model, seeds, nearest, nearest_sheet(seeds, faces, images.images, nearest), images

        renderer.submit("nearest", job)

    def _show_nearest(self, model, seeds, nearest, sheet, images) -> None:
        found, distances, mirrored = nearest
        closest = int(distances[:, 0].argmin())
        copies = int((distances[:, 0] < COPY_DISTANCE).sum())
        more = f"; {copies} of these {len(seeds)} faces look like copies" if copies > 1 else ""
        self.status.setText(
            f"Seed {seeds[closest]} looks like a copy of "
            f"{images.paths[found[closest, 0]]}{', mirrored' * bool(mirrored[closest, 0])} "
            f"({distances[closest, 0]:.3f} away){more}"
            if copies else
            f"No copy of a dataset image among them: the closest is {distances[closest, 0]:.3f} away (seed "
            f"{seeds[closest]})")
        dialog = QDialog(self)
        dialog.setWindowTitle(f"Nearest real faces — {model.info.label}")
        dialog.view = view = ImageView()
        view.set_image(sheet)
        size = max(self.grid.faces.shape[-1], images.resolution)  # the sheet's cells: the larger of the two

        def describe(x: int, y: int) -> str:
            r, c = sheet_cell(x, y, size, len(seeds), 1 + found.shape[1])
            if r is None or c is None:
                return ""
            if c == 0:
                return f"Seed {seeds[r]} from {model.info.label}"
            return (f"{images.paths[found[r, c - 1]]}{', mirrored' * bool(mirrored[r, c - 1])}: "
                    f"{distances[r, c - 1]:.3f} away from seed {seeds[r]}")

        view.describe = describe
        note = QLabel(f"Distance: {DISTANCE_SCALE}. A copy of a dataset image is under {COPY_DISTANCE} (on anime "
                      "faces, one with some noise is about 0.1), while a real face that is no copy is typically 0.8 "
                      "from its nearest other one, and two random faces 1.25 apart. Faces are also compared "
                      "mirrored, as training flips them; such a match is shown mirrored. Hover a face for its file.")
        note.setWordWrap(True)

        def save(path: str | None = None) -> str | None:
            """The sheet as an image file (the dialog asks where); the PNG text names the model and the dataset."""
            path = path or ask_save_path(dialog, self.state, "Save nearest real faces",
                                         f"{model.info.stem}-nearest.png", IMAGE_FILTERS)
            if not path:
                return None
            try:
                save_image(path, sheet, {"model": model.info.path, "real": images.report.folder,
                                         "seeds": ", ".join(map(str, seeds))})
            except (OSError, ValueError) as exc:
                note.setText(f"Cannot write {path}: {exc}")
                return None
            self.status.setText(f"Saved {path}")
            return path

        dialog.save = save
        save_button = QPushButton("Save sheet…")
        set_icon(save_button, "grid")
        save_button.clicked.connect(lambda: save())
        layout = QVBoxLayout(dialog)
        layout.addWidget(view, 1)
        buttons = row(note, save_button, stretch=False)
        buttons.setStretch(0, 1)  # the note takes the width; the button keeps its own
        layout.addLayout(buttons)
        dialog.resize(760, 560)
        dialog.show()
        self._dialogs.append(dialog)

    def find_face(self, path: str | None = None) -> FindFaceDialog | None:
        """The model's face most like a picture (the user picks it when no path is given), searched in the background
        in a window of its own."""
        model = self.state.model
        if model is None:
            return None
        path = path or QFileDialog.getOpenFileName(self, "Find a face like", export_folder(self.state),
                                                   f"Images ({' '.join('*' + e for e in sorted(IMAGE_EXTENSIONS))});;"
                                                   "All files (*)")[0]
        if not path:
            return None
        dialog = FindFaceDialog(self, self.state, model, path)
        dialog.show()
        self._dialogs.append(dialog)
        dialog.edit_button.clicked.connect(lambda: dialog.found is not None and self.edit_face(
            dialog.found.key, f"the face found for {os.path.basename(path)}", path, model=dialog.model))
        name = os.path.basename(path)
        self.status.setText(f"Looking for a face like {name} …")
        dialog.search.finished.connect(lambda found: self.status.setText(
            f"Found a face like {name}, {found.distance:.3f} away (seed {found.seed}'s was {found.seed_distance:.3f})"))
        dialog.search.failed.connect(lambda message: self.status.setText(
            f"No face like {name}: cancelled" if message == "cancelled" else f"No face like {name}: {message}"))
        return dialog

    def edit_face(self, key=None, name: str = "", picture: str = "", earlier: str = "",
                  model: GeneratorModel | None = None) -> EditFaceDialog | None:
        """A face moved along the model's directions, in a window of its own: the first selected face (at the
        truncation it was drawn at), or a latent (key, named `name`) of `model` (default: the open one)."""
        model = model or self.state.model
        if model is None:
            return None
        truncation = 1.0
        if key is None:
            rows = self.grid.selected_rows()
            if not rows:
                self.status.setText("Select a face to edit")
                return None
            key, truncation = self.seeds[rows[0]], self.rendered_truncation
            name = f"seed {key}" + (f", truncation {truncation:g}" if truncation != 1.0 else "")
        dialog = EditFaceDialog(self, self.state, self.renderer, model, key, name, truncation, picture, earlier)
        dialog.walk.connect(lambda keys, names: self.walk_faces.emit(keys, names, model.info.path))
        dialog.show()
        self._dialogs.append(dialog)
        return dialog

    def shutdown(self) -> None:
        """Searches for faces like pictures, and edits finding their directions, stop at their next step (the
        studio is closing)."""
        jobs = [(d.search if isinstance(d, FindFaceDialog) else d.start_job) for d in self._dialogs
                if isinstance(d, (FindFaceDialog, EditFaceDialog))]
        jobs = [job for job in jobs if job.is_running()]
        for job in jobs:
            job.cancelled.set()
        for job in jobs:
            job.wait(30)

    def _enlarge(self, index: int) -> None:
        self._dialogs.append(show_enlarged(self, self.grid.faces[index], f"seed {self.seeds[index]}"))

    def export(self, selected_only: bool, folder: str | None = None) -> list[str]:
        model = self.state.model
        if model is None or not len(self.grid.faces):
            return []
        rows = self.grid.selected_rows() if selected_only else list(range(len(self.seeds)))
        if not rows:
            self.status.setText("Select faces first (click, Ctrl+click, Shift+click)")
            return []
        folder = folder or ask_export_folder(self, self.state, "Export faces to")
        if not folder:
            return []
        dialog = QProgressDialog("Exporting faces…", "Cancel", 0, len(rows), self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)

        def progress(i: int, total: int) -> bool:
            dialog.setValue(i)
            QApplication.processEvents()
            return not dialog.wasCanceled()

        try:
            paths = export_faces(model, self.grid.faces[rows], [self.seeds[i] for i in rows],
                                 self.rendered_truncation, folder, progress)
        except OSError as exc:  # a read-only folder, a full disk: each face is written whole or not at all
            self.status.setText(f"Cannot write to {folder}: {exc}")
            return []
        finally:
            dialog.setValue(len(rows))
        self.status.setText(f"Wrote {len(paths)} PNGs to {folder}")
        return paths

    def save_grid_png(self, path: str | None = None) -> str | None:
        model = self.state.model
        if model is None or not len(self.grid.faces):
            return None
        path = path or ask_save_path(self, self.state, "Save grid",
                                     grid_filename(model, self.seeds, self.rendered_truncation), IMAGE_FILTERS)
        if not path:
            return None
        try:
            save_image(path, make_grid(self.grid.faces), grid_metadata(model, self.seeds, self.rendered_truncation))
        except (OSError, ValueError) as exc:
            self.status.setText(f"Cannot write {path}: {exc}")
            return None
        self.status.setText(f"Saved {path}")
        return path
