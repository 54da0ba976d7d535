"""Interpolate panel: walk between two or more faces (lerp or slerp in z, lerp in w), scrub live, play the
walk at its export timing, export GIF, MP4 or numbered PNGs."""

from __future__ import annotations

import os
import threading

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QSlider, QSpinBox, QVBoxLayout, QWidget)

from studio.dialogs import ask_save_path
from studio.icons import set_icon
from studio.state import SavedFaces, StudioState
from studio.widgets.faces import FaceGrid, ImageView
from studio.widgets.layout import row, split
from studio.widgets.truncation import TruncationSlider
from studio.workers import Renderer
from trainers.animation import ExportCancelled, write_animation
from trainers.explore import METHODS, Key, parse_seeds, render_latents, same_file, walk_latents

STRIP = 10  # frames shown in the strip
WALK_CHUNK = 16  # frames rendered at a time for playback: progress shows and a newer path cuts in


class InterpolatePanel(QWidget):
    export_progress = Signal(int, int)
    export_done = Signal(str)
    REMEMBERED = ("seeds", "method", "loop", "frames", "seconds", "truncation", "scale")  # for the next session

    def __init__(self, state: StudioState, renderer: Renderer, parent=None):
        super().__init__(parent)
        self.state, self.renderer = state, renderer
        self.space, self.latents = "z", np.zeros((0, 1), np.float32)
        self.psi = 1.0  # the truncation the current walk's frames are made at
        self.walk_seeds: list[Key] = []  # the faces the current walk goes through: seeds, and found faces' latents
        self._found: SavedFaces | None = None  # a walk through faces saved with their latents
        self._lost = ""  # why the faces remembered from the last session cannot walk again
        self._export_thread: threading.Thread | None = None
        self._path_id = 0  # which walk self.latents is; rendered frames carry it
        self._path_model = None  # the model the current walk's latents are for
        self._path_applied = 0  # the newest walk whose latents are here
        self._export_when_ready: str | None = None  # an export asked for while its walk was being made
        self._path_request = 0  # the newest walk asked for: its latents are made in the background (a walk in w
        # runs the mapping network)
        self._frames: np.ndarray | None = None  # every frame of the current walk, once rendered for playback
        self._cancel_export = threading.Event()

        self.seeds = QLineEdit("1, 2")
        self.seeds.setToolTip("Two or more seeds to walk through, separated by commas")
        self.method = QComboBox(); self.method.addItems(list(METHODS))
        self.loop = QCheckBox("Loop")
        self.frames = QSpinBox(); self.frames.setRange(2, 2000); self.frames.setValue(60)
        self.seconds = QDoubleSpinBox(); self.seconds.setRange(0.1, 600); self.seconds.setValue(3.0)
        self.truncation = TruncationSlider()
        self.truncation.setMaximumWidth(120)
        self.truncation.setEnabled(False)  # StyleGAN2's
        self.scale = QSpinBox(); self.scale.setRange(1, 8); self.scale.setValue(4)
        self.scale.setToolTip("Exported frames are enlarged by this factor")
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        set_icon(self.play_button, "start")
        self.play_button.setToolTip("Play the walk over and over, at its frames and seconds (as exported)")
        self.timer = QTimer(self)
        self.frame_label = QLabel("")
        self.view = ImageView("Open a model to interpolate")
        self.strip = FaceGrid(64)
        self.strip.setToolTip("Frames along the walk: click one to go there")
        self._strip_frames: list[int] = []
        self.export_button = QPushButton("Export…")
        set_icon(self.export_button, "export")
        self.export_button.setToolTip("GIF (.gif), MP4 (.mp4), or a folder of numbered PNGs")
        self.progress = QProgressBar(); self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel"); self.cancel_button.setVisible(False)
        self.message = QLabel("")

        scrub_row = QHBoxLayout()
        scrub_row.addWidget(self.play_button)
        scrub_row.addWidget(self.scrub, 1)
        scrub_row.addWidget(self.frame_label)
        layout = QVBoxLayout(self)
        layout.addLayout(row(QLabel("Seeds"), self.seeds, self.method, self.loop, QLabel("Frames"), self.frames,
                             QLabel("Seconds"), self.seconds, QLabel("Truncation"), self.truncation,
                             self.truncation.label, QLabel("Export scale"), self.scale, stretch=False))
        layout.addLayout(scrub_row)
        layout.addWidget(split(self.view, self.strip, sizes=[400, 120], vertical=True), 1)
        layout.addLayout(row(self.export_button, self.progress, self.cancel_button, self.message))

        self.seeds.editingFinished.connect(self.update_path)
        self.method.currentTextChanged.connect(self.update_path)
        self.loop.toggled.connect(self.update_path)
        self.frames.valueChanged.connect(self.update_path)
        self.truncation.valueChanged.connect(self.update_path)
        self.scrub.valueChanged.connect(self.render_frame)
        self.play_button.toggled.connect(self._on_play)
        self.strip.itemClicked.connect(lambda item: self._go_to_strip_frame(self.strip.row(item)))
        self.seconds.valueChanged.connect(self._set_interval)
        self.timer.timeout.connect(self._next_frame)
        renderer.progress.connect(self._on_walk_progress)
        self.export_button.clicked.connect(lambda: self.export())
        self.cancel_button.clicked.connect(self._cancel_export.set)
        self.export_progress.connect(self._on_export_progress)
        self.export_done.connect(self._on_export_done)
        renderer.done.connect(self._on_rendered)
        renderer.failed.connect(lambda key, msg: key.startswith("interp") and self.message.setText(f"Error: {msg}"))
        state.model_changed.connect(lambda model: self.update_path())

    def set_seeds(self, seeds: list[Key], truncation: float | None = None, render: bool = True,
                  names: list[str] | None = None, found_by: str = "", paths: list[str] | None = None) -> None:
        """Walk through these seeds' faces (at this truncation, e.g. the one they were seen at in Generate); with
        render False, the walk is made when the next model opens. Faces saved with their latents (found for
        pictures, or edited) come as those (explore.Key), named in the seeds field by `names` (one per latent), from
        their files `paths` (so that the next session has them again), with the model that made them (`found_by`):
        they cannot be typed there, they walk only with that model, and StyleGAN2's are walked in w."""
        found = [i for i, key in enumerate(seeds) if isinstance(key, np.ndarray)]
        self._lost = ""
        if found:
            names = names or [f"found face {n + 1}" for n in range(len(found))]
            self._found = SavedFaces.of(list(seeds), names, paths or [], found_by)
            self.seeds.setText(self._found.text)
        else:
            self._found = None
            self.seeds.setText(", ".join(map(str, seeds)))
        if truncation is not None:
            self.truncation.set_psi(truncation, quiet=True)
        if render:
            self.update_path()

    def remembered_faces(self) -> str:
        """The saved faces the walk goes through, for the next session ("" for none)."""
        found = self._found
        return found.remembered() if found is not None and found.text == self.seeds.text() else ""

    def recall_faces(self, value: str) -> None:
        """The saved faces of the last session's walk (`remembered_faces`), read from their files again."""
        self._found, self._lost = SavedFaces.recall_for(value, self.seeds.text())

    def update_path(self) -> None:
        model = self.state.model
        if model is None:
            self.play_button.setChecked(False)
            return
        w_item = self.method.model().item(2)
        w_item.setEnabled(model.info.style_based)
        self.truncation.setEnabled(model.info.style_based)
        if not model.info.style_based and self.method.currentIndex() == 2:
            self.method.setCurrentIndex(0)
            return
        try:
            if self._found is not None and self._found.text == self.seeds.text():
                seeds = self._found.keys
                if not same_file(self._found.model, model.info.path):
                    raise ValueError(f"These faces were made by {os.path.basename(self._found.model)}: open it to "
                                     "walk through them")
            elif "[" in self.seeds.text():
                raise ValueError(f"{self._lost}: drop the saved faces on this tab again" if self._lost else
                                 "faces found for pictures or edited cannot be typed among the seeds: drop their "
                                 "saved faces on this tab")
            else:
                seeds = parse_seeds(self.seeds.text())
            if len(seeds) < 2:
                raise ValueError("give at least two seeds")
        except ValueError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText("")
        if model.info.style_based and any(isinstance(k, np.ndarray) for k in seeds):
            if self.method.currentIndex() != 2:  # a StyleGAN2 face found for a picture has a w, not a z
                self.method.blockSignals(True)
                self.method.setCurrentIndex(2)
                self.method.blockSignals(False)
                self.message.setText("Faces found for pictures or edited are walked in w")
        psi = self.truncation.psi() if model.info.style_based else 1.0
        frames, method, loop = self.frames.value(), self.method.currentText(), self.loop.isChecked()
        self._path_request += 1
        request = self._path_request
        self.renderer.submit("interp-path", lambda: (request, model, seeds, psi,
                                                     *walk_latents(model, seeds, frames, method, loop, psi)))

    def _walk_model(self):
        """The model the current walk was made for, while it is the open one (else a new walk is on its way)."""
        return self._path_model if self._path_model is self.state.model else None

    def _on_path(self, request: int, model, seeds: list[int], psi: float, space: str, latents: np.ndarray) -> None:
        if request != self._path_request or model is not self.state.model:  # a newer walk is on its way
            return
        self.space, self.latents, self.walk_seeds, self.psi = space, latents, seeds, psi
        self._path_model, self._path_applied = model, request
        self._path_id += 1
        self._frames = None
        self.scrub.setRange(0, len(self.latents) - 1)
        if self.play_button.isChecked():
            self._render_walk()
        self.render_frame(self.scrub.value())
        picks = np.linspace(0, len(self.latents) - 1, min(STRIP, len(self.latents))).round().astype(int)
        space, latents, psi = self.space, self.latents[picks], self.psi
        self.renderer.submit("interp-strip", lambda: (picks, render_latents(model, space, latents, psi)))
        if self._export_when_ready is not None:
            path, self._export_when_ready = self._export_when_ready, None
            self.export(path)

    def render_frame(self, index: int) -> None:
        model = self._walk_model()
        if model is None or not len(self.latents):
            return
        index = min(index, len(self.latents) - 1)
        self.frame_label.setText(f"frame {index + 1} / {len(self.latents)}")
        if self._frames is not None:  # rendered for playback: every frame is at hand
            self.view.set_image(self._frames[index])
            return
        space, latent, psi = self.space, self.latents[index : index + 1], self.psi
        self.renderer.submit("interp-frame", lambda: render_latents(model, space, latent, psi)[0])

    # -- playback ----------------------------------------------------------------------------------------------
    def _on_play(self, on: bool) -> None:
        set_icon(self.play_button, "pause" if on else "start")
        self.play_button.setText("Pause" if on else "Play")
        if not on:
            self.timer.stop()
        elif self._frames is not None:
            self._start_timer()
        else:
            self._render_walk()

    def _render_walk(self) -> None:
        """Render every frame of the walk in the background, in parts, then play from memory."""
        model = self._walk_model()
        if model is None or not len(self.latents):
            return
        path_id, space, latents, psi, renderer = self._path_id, self.space, self.latents, self.psi, self.renderer
        self.timer.stop()

        def job():
            parts = []
            for i in range(0, len(latents), WALK_CHUNK):
                if i and renderer.superseded("interp-walk"):
                    return None
                parts.append(render_latents(model, space, latents[i : i + WALK_CHUNK], psi))
                renderer.progress.emit("interp-walk", min(i + WALK_CHUNK, len(latents)), len(latents))
            return path_id, np.concatenate(parts).transpose(0, 2, 3, 1)

        renderer.submit("interp-walk", job)

    def _on_walk_progress(self, key: str, done: int, total: int) -> None:
        if key == "interp-walk" and self.play_button.isChecked() and done < total:
            self.message.setText(f"Rendering the walk: {done:,} of {total:,} frames …")

    def _set_interval(self) -> None:
        frames = max(len(self.latents), 1)
        self.timer.setInterval(max(10, round(1000 * self.seconds.value() / frames)))

    def _start_timer(self) -> None:
        self._set_interval()
        self.timer.start()

    def _next_frame(self) -> None:
        if len(self.latents):
            self.scrub.setValue((self.scrub.value() + 1) % len(self.latents))

    def _on_rendered(self, key: str, result) -> None:
        if key == "interp-path":
            self._on_path(*result)
        elif key == "interp-frame":
            if self._frames is None:  # a frame asked for before playback began is stale by now
                self.view.set_image(result)
        elif key == "interp-walk":
            if result is None or result[0] != self._path_id:
                return
            self._frames = result[1]
            self.message.setText("")
            if self.play_button.isChecked():
                self._start_timer()
        elif key == "interp-strip":
            picks, faces = result
            self._strip_frames = [int(i) for i in picks]
            self.strip.set_faces(faces, [f"{i + 1}" for i in picks])

    def _go_to_strip_frame(self, row: int) -> None:
        if 0 <= row < len(self._strip_frames):
            self.play_button.setChecked(False)
            self.scrub.setValue(self._strip_frames[row])

    # -- export ------------------------------------------------------------------------------------------------
    def export(self, path: str | None = None) -> None:
        if self.state.model is None or self.exporting():
            return
        if path is None:
            try:
                seeds = "-".join(map(str, parse_seeds(self.seeds.text())[:8]))
            except ValueError:  # a walk through faces found for pictures: its seeds, and "found" for each of those
                seeds = "-".join("found" if isinstance(k, np.ndarray) else str(k) for k in self.walk_seeds[:8])
            psi = self.truncation.psi() if self.state.model.info.style_based else 1.0
            psi_part = "" if psi == 1 else f"-psi{psi:.2f}"  # as exported faces are named
            path = ask_save_path(self, self.state, "Export animation",
                                 f"{self.state.model.info.stem}-walk-{seeds}{psi_part}.gif",
                                 "GIF (*.gif);;MP4 (*.mp4);;PNG frames (folder name, no suffix) (*)")
            if not path:
                return
        if self._path_applied != self._path_request:  # the walk asked for last is still being made: export it
            self._export_when_ready = path
            self.message.setText("Preparing the walk …")
            return
        model = self._walk_model()
        if model is None or not len(self.latents):
            return
        space, latents, psi = self.space, self.latents.copy(), self.psi
        seconds, scale = self.seconds.value(), self.scale.value()
        self._cancel_export.clear()
        self.progress.setRange(0, len(latents))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.export_button.setEnabled(False)

        def work() -> None:
            try:
                frames = []
                for i in range(0, len(latents), 16):
                    if self._cancel_export.is_set():
                        self.export_done.emit("Export cancelled; nothing was written.")
                        return
                    frames.append(render_latents(model, space, latents[i : i + 16], psi))
                    self.export_progress.emit(min(i + 16, len(latents)), len(latents))
                frames = np.concatenate(frames).transpose(0, 2, 3, 1)
                written = write_animation(path, frames, seconds, scale, cancel=self._cancel_export.is_set)
                self.export_done.emit(f"Wrote {len(frames)} frames to {written[0] if len(written) == 1 else path}")
            except ExportCancelled:
                self.export_done.emit("Export cancelled; nothing was written.")
            except Exception as exc:
                self.export_done.emit(f"Export failed: {exc}")

        self._export_thread = threading.Thread(target=work, name="interpolation-export", daemon=True)
        self._export_thread.start()

    def exporting(self) -> bool:
        """An export is under way (or waits for its walk to be made)."""
        return self._export_when_ready is not None or (self._export_thread is not None
                                                        and self._export_thread.is_alive())

    def _on_export_progress(self, done: int, total: int) -> None:
        self.progress.setValue(done)

    def _on_export_done(self, message: str) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.export_button.setEnabled(True)
        self.message.setText(message)

    def shutdown(self) -> None:
        self.timer.stop()
        self._export_when_ready = None  # its walk will not come now
        self._cancel_export.set()
        if self._export_thread is not None:
            self._export_thread.join(60)
