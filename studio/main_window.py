"""The main window: a tab per panel, menus, the status bar (compute device, inference provider), drag and
drop of folders and model files, remembered layout and recent items, and a clean shutdown."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QEvent, QSettings, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget

from studio import icons
from studio.demo import is_demo_model
from studio.panels.dataset import DatasetPanel
from studio.panels.generate import GeneratePanel
from studio.panels.train import TrainPanel
from studio.state import StudioState
from studio.widgets.remember import restore_fields, save_fields
from studio.workers import Renderer
from trainers import __version__, versions
from trainers.data import is_archive
from trainers.explore import FaceOrigin, FoundFace, face_origin, found_face, locate_model, same_file
from trainers.images import is_image_name
from trainers.inference import GeneratorModel, open_model

MODEL_SUFFIXES = (".onnx", ".pt")
MAX_RECENT = 8
MAX_PICTURES_FOUND = 4  # pictures dropped at once that are each looked for among the open model's faces


def about_text() -> str:
    """The version of the studio and of what it runs on (worth pasting into a bug report)."""
    return (f"GAN Studio {__version__}\nTrain GANs on your own images and explore what they learned.\n\n"
            f"{versions()}")


FacesShown = Callable[[GeneratorModel, bool], str]  # show saved faces with this model (render now?) -> status text


class MainWindow(QMainWindow):
    device_found = Signal(str)
    gpus_found = Signal(int)  # CUDA GPUs on this machine (0 when none or CUDA is broken)

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("GAN Studio")
        self.setAcceptDrops(True)
        self.settings = settings or QSettings()
        self.state = StudioState()
        self.renderer = Renderer(self)
        # a model being opened for saved faces, and what shows them once it is open (FacesShown), in the order dropped
        self._pending_faces: tuple[str, list[FacesShown]] | None = None
        self.renderer.done.connect(self._on_rendered)
        self.renderer.failed.connect(self._on_render_failed)

        self.dataset_panel = DatasetPanel(self.state)
        self.train_panel = TrainPanel(self.state)
        self.generate_panel = GeneratePanel(self.state, self.renderer)
        self.panels = self._make_exploration_panels()
        self.tabs = QTabWidget()
        for title, panel in [("Dataset", self.dataset_panel), ("Train", self.train_panel),
                             ("Generate", self.generate_panel), *self.panels]:
            self.tabs.addTab(panel, title)
        self.setCentralWidget(self.tabs)
        self.setWindowIcon(icons.icon("app"))
        self._tint_tab_icons()
        self.dataset_panel.folder_loaded.connect(self._on_folder_loaded)
        self.dataset_panel.demo_button.clicked.connect(self.open_demo_faces)
        self.train_panel.open_checkpoint.connect(self.open_model_file)
        self.train_panel.trained.connect(self._on_trained)
        self.training_activity = ""
        self.train_panel.activity.connect(self._on_training_activity)
        self.state.model_changed.connect(lambda _: self._update_title())
        self.state.dataset_changed.connect(lambda *_: self._update_title())
        self.generate_panel.interpolate_seeds.connect(self._interpolate_seeds)
        self.generate_panel.mix_seeds.connect(self._mix_seeds)
        self.generate_panel.walk_faces.connect(self._walk_faces)
        self.train_panel.restore_form(self.settings)
        for prefix, panel in self._remembered_panels():  # where the user's exploring was, before a model opens
            restore_fields(self.settings, prefix, panel, panel.REMEMBERED)
        for prefix, panel in (("interpolate", self.interpolate_panel), ("style_mix", self.style_mix_panel)):
            panel.recall_faces(str(self.settings.value(f"{prefix}/saved_faces", "") or ""))  # dropped saved faces
        self.compare_panel.inception_path = str(self.settings.value("inception_weights", "") or "")
        self.compare_panel.restore_rows(str(self.settings.value("compare/rows", "") or ""))
        self.state.export_folder = str(self.settings.value("export_folder", "") or "")  # save dialogs open there
        self.compare_panel.inception_changed.connect(lambda p: self.settings.setValue("inception_weights", p))

        self.device_label = QLabel("Compute: …")
        self.provider_label = QLabel("Inference: no model")
        self.statusBar().addPermanentWidget(self.provider_label)
        self.statusBar().addPermanentWidget(self.device_label)
        self.device_found.connect(lambda text: self.device_label.setText(f"Compute: {text}"))
        self.gpus_found.connect(self.train_panel.set_gpu_count)
        threading.Thread(target=self._find_device, daemon=True, name="device-probe").start()

        self._make_menus()
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 800)
        self.tabs.setCurrentIndex(int(self.settings.value("window/tab", 0)))

    def _make_exploration_panels(self) -> list:
        from studio.panels.compare import ComparePanel
        from studio.panels.interpolate import InterpolatePanel
        from studio.panels.style_mix import StyleMixPanel

        self.interpolate_panel = InterpolatePanel(self.state, self.renderer)
        self.style_mix_panel = StyleMixPanel(self.state, self.renderer)
        self.compare_panel = ComparePanel(self.state, self.renderer)
        return [("Interpolate", self.interpolate_panel), ("Style mixing", self.style_mix_panel),
                ("Compare", self.compare_panel)]

    # -- icons ---------------------------------------------------------------------------------------------
    TAB_ICONS = {"Dataset": "dataset", "Train": "train", "Generate": "generate", "Interpolate": "interpolate",
                 "Style mixing": "style-mix", "Compare": "compare"}

    def _tint_tab_icons(self) -> None:
        color = icons.text_color(self.tabs.tabBar())
        for i in range(self.tabs.count()):
            self.tabs.setTabIcon(i, icons.icon(self.TAB_ICONS[self.tabs.tabText(i)], color))

    def _retint(self) -> None:
        self._tint_tab_icons()
        icons.retint(self)
        self.train_panel.plot.retheme()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.PaletteChange:  # the system switched between light and dark
            # once the new palette has reached the children too (Qt tells the window first)
            QTimer.singleShot(0, self._retint)
        super().changeEvent(event)

    def _remembered_panels(self):
        return (("generate", self.generate_panel), ("interpolate", self.interpolate_panel),
                ("style_mix", self.style_mix_panel), ("compare", self.compare_panel))

    # -- menus ---------------------------------------------------------------------------------------------
    def _make_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "Open &dataset folder…", QKeySequence("Ctrl+D"), self.dataset_panel.choose_folder)
        self._action(file_menu, "Open dataset &archive (.zip, .tar, .tar.gz…)…", None,
                     self.dataset_panel.choose_archive)
        self._action(file_menu, "&Open model…", QKeySequence.StandardKey.Open, self.choose_model)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addSeparator()
        self._action(file_menu, "&Export selected faces…", QKeySequence("Ctrl+E"),
                     lambda: self.generate_panel.export(selected_only=True))
        self._action(file_menu, "Export &all faces…", QKeySequence("Ctrl+Shift+E"),
                     lambda: self.generate_panel.export(selected_only=False))
        self._action(file_menu, "Export model to &ONNX…", None, self.export_onnx)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", QKeySequence("F1"), self.show_shortcuts)
        self._action(help_menu, "&About GAN Studio", None, self.show_about)
        for i in range(self.tabs.count()):
            self._action(None, f"Tab {i + 1}", QKeySequence(f"Ctrl+{i + 1}"), lambda i=i: self.tabs.setCurrentIndex(i))

    def _action(self, menu, text, shortcut, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        else:
            self.addAction(action)
        return action

    def _interpolate_seeds(self, seeds: list[int]) -> None:
        # at the truncation their faces were seen at, so that the walk starts and ends on those faces
        self.interpolate_panel.set_seeds(seeds, self.generate_panel.rendered_truncation)
        self.tabs.setCurrentWidget(self.interpolate_panel)

    def _walk_faces(self, latents: list, names: list[str], model_path: str) -> None:
        """A loop through faces at their latents (a face and its edit), as they are: no truncation on top."""
        self.interpolate_panel.loop.setChecked(True)
        self.interpolate_panel.set_seeds(latents, 1.0, names=names, found_by=model_path)
        self.tabs.setCurrentWidget(self.interpolate_panel)

    def _mix_seeds(self, seeds: list[int]) -> None:
        self.style_mix_panel.set_seeds(seeds, seeds, self.generate_panel.rendered_truncation)
        self.tabs.setCurrentWidget(self.style_mix_panel)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for key, opener in (("recent_folders", self.dataset_panel.load), ("recent_models", self.open_model_file)):
            for path in self._recent(key):
                action = self.recent_menu.addAction(path)
                action.triggered.connect(lambda checked=False, p=path, o=opener: o(p))
            self.recent_menu.addSeparator()

    def _recent(self, key: str) -> list[str]:
        value = self.settings.value(key, [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember(self, key: str, path: str) -> None:
        items = [path] + [p for p in self._recent(key) if p != path]
        self.settings.setValue(key, items[:MAX_RECENT])

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", "\n".join([
            "Ctrl+O  open a model (.onnx or checkpoint), or a face saved by the studio; or a picture: the open "
            "model's face most like it",
            "Ctrl+D  open a dataset folder",
            "Ctrl+E  export the selected faces", "Ctrl+Shift+E  export all faces",
            "Ctrl+1 … Ctrl+6  switch panels",
            "Enter  enlarge the current face; open the current checkpoint; show the current pair of duplicates",
            "F1  this list", "Ctrl+Q  quit"]))

    def show_about(self) -> None:
        QMessageBox.about(self, "About GAN Studio", about_text())

    # -- models ----------------------------------------------------------------------------------------------
    def choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", "", "Models (*.onnx *.pt);;Faces and grids saved "
                                              "by GAN Studio, or a picture to find a face like (*.png *.jpg *.jpeg);;"
                                              "All files (*)")
        if not path or (is_image_name(path) and self.open_face_file(path)):
            return
        if is_image_name(path) and self._can_find_faces():  # a picture of one's own: the model's face most like it
            self._find_faces_like([path])
        else:
            self.open_model_file(path)

    def open_face_file(self, path: str) -> bool:
        """A face or grid the studio saved, opened again: its model in Generate, at its seeds and truncation, the
        face selected. A face saved with its latent (found for a picture, or edited) opens its model and, itself, in
        *Edit face…*; a word says where else such faces go. False when the image holds no such record (it was not saved
        by GAN Studio)."""
        origin = face_origin(path) or found_face(path)
        if origin is None:
            return False
        name = os.path.basename(path)
        found = self._model_of(path, origin)
        if found and isinstance(origin, FoundFace):
            self.tabs.setCurrentWidget(self.generate_panel)

            def edit(model: GeneratorModel, render: bool) -> str:
                self.generate_panel.edit_face(origin.latent, origin.seeds_text(), origin.picture, origin.edit, model)
                return (f"{name} is {origin.seeds_text()} by {model.info.label}{self._differs(origin, model)}: it "
                        "opens in Edit face; drop it with other saved faces on Interpolate to walk through them, or on "
                        "Style mixing to mix their styles")

            self._show_faces_of(found, edit)
        elif found:
            self.tabs.setCurrentWidget(self.generate_panel)

            def show(model: GeneratorModel, render: bool) -> str:
                self.generate_panel.show_seeds(origin.first_seed, origin.count, origin.truncation, render=render)
                return f"{name}: {origin.seeds_text()} of {model.info.label}{self._differs(origin, model)}"

            self._show_faces_of(found, show)
        return True

    def _model_of(self, face: str, origin: FaceOrigin | FoundFace) -> str:
        """Where the model of a saved face is now: where it was, beside the face, or where the user says ("" when they
        do not)."""
        return locate_model(face, origin) or self._ask_where_the_model_is(os.path.basename(face), origin,
                                                                          os.path.dirname(face))

    def _show_faces_of(self, model_path: str, show: FacesShown) -> None:
        """show(model, render) once the model at model_path is open: at once if it is, else after it opens, before its
        first faces are drawn (so they are drawn once, the right ones)."""
        model = self.state.model
        if model is not None and same_file(model.info.path, model_path):
            self.statusBar().showMessage(show(model, True), 20000)
        else:
            pending = self._pending_faces
            if pending is not None and same_file(pending[0], model_path):  # (faces dropped on two tabs in a row)
                pending[1].append(show)
                return
            self._pending_faces = (model_path, [show])
            self.open_model_file(model_path)

    def _ask_where_the_model_is(self, name: str, origin: FaceOrigin | FoundFace, folder: str) -> str:
        """The model file the user finds for a saved face whose model has moved ("" when they do not)."""
        gone = f"{name} was made by {origin.model} ({origin.seeds_text()}), which is no longer there"
        then = "" if isinstance(origin, FoundFace) else " and go to those seeds"
        self.statusBar().showMessage(f"{gone}: open that model where it is now{then}", 20000)
        answer = QMessageBox.question(self, "Where is its model?",
                                      f"{gone}.\n\nShow where the model is now, and those faces open with it.",
                                      QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Open:
            return ""
        found, _ = QFileDialog.getOpenFileName(self, f"Where is {os.path.basename(origin.model)} now?", folder,
                                               "Models (*.onnx *.pt);;All files (*)")
        return found

    @staticmethod
    def _differs(origin: FaceOrigin, model: GeneratorModel) -> str:
        """What a status line adds when the model is not the one that made the face: another family, another step."""
        if origin.family and origin.family != model.info.family:
            return f". It was made by a {origin.family} model, not this {model.info.family} one: its faces differ"
        if origin.step is not None and origin.step != model.info.step:
            return (f". It was made at step {origin.step:,} and this model is at step {model.info.step:,} now, so "
                    "its faces may differ")
        return ""

    def open_model_file(self, path: str) -> None:
        """Open a model in the background (onnxruntime sessions and torch loads stay off the GUI thread)."""
        self.statusBar().showMessage(f"Opening {path} …")
        self.renderer.submit("open-model", lambda: open_model(path))

    def _on_training_activity(self, text: str) -> None:
        self.training_activity = text
        self._update_title()

    def _update_title(self) -> None:
        """GAN Studio — the open model · the dataset, and what training is doing (seen in the task bar too)."""
        parts = [p for p in (self.state.model.info.label if self.state.model else "", self.state.dataset_name) if p]
        title = "GAN Studio" + (f" — {' · '.join(parts)}" if parts else "")
        self.setWindowTitle(f"{title} ({self.training_activity})" if self.training_activity else title)

    def _on_trained(self, checkpoint: str) -> None:
        """A run ended: with no model of the user's own open, its newest checkpoint opens in Generate."""
        model = self.state.model
        if model is None or is_demo_model(model.info.path):
            self.open_model_file(checkpoint)
            self.train_panel.add_status("It is open in Generate.")
        else:
            self.train_panel.add_status("Open in Generate shows its faces.")

    def _on_rendered(self, key: str, result) -> None:
        if key == "demo-folder":
            self.dataset_panel.load(str(result))
        elif key.startswith("open-model-extra"):
            self.state.add_model(result)
        elif key == "export":
            self.statusBar().showMessage(f"Wrote {result.path} (parity {result.max_abs_diff:.1e})", 10000)
        elif key == "open-model":
            model: GeneratorModel = result
            faces, self._pending_faces = self._pending_faces, None
            if faces is not None and not same_file(model.info.path, faces[0]):
                faces = None  # another model was opened meanwhile: the saved faces wait for no other
            said = [show(model, False) for show in faces[1]][-1] if faces is not None else ""  # (before it renders)
            self.state.set_model(model)
            self.provider_label.setText(f"Inference: {model.info.provider}")
            self.statusBar().showMessage(said or f"Opened {model.info.path}", 20000 if said else 5000)
            if not is_demo_model(model.info.path):
                self._remember("recent_models", model.info.path)
                self.settings.setValue("last_model", model.info.path)

    def _on_render_failed(self, key: str, message: str) -> None:
        if key == "open-model":
            self._pending_faces = None
        if key in ("open-model", "export"):
            what = "Cannot open the model" if key == "open-model" else "Cannot export the model"
            self.statusBar().showMessage(f"{what}: {message}", 15000)
            QMessageBox.warning(self, what, message)

    def export_onnx(self) -> None:
        model = self.state.model
        if model is None or model.info.path.endswith(".onnx"):
            QMessageBox.information(self, "Export to ONNX", "Open a checkpoint first (it is exported as it is).")
            return
        # beside the run, named after it: RUN/FAMILY-RUN-step-N.onnx
        suggested = model.info.home / f"{model.info.stem}.onnx"
        out, _ = QFileDialog.getSaveFileName(self, "Export to ONNX", str(suggested), "ONNX (*.onnx)")
        if out:
            from trainers.export import export_onnx

            self.statusBar().showMessage("Exporting and checking parity …")
            self.renderer.submit("export", lambda: export_onnx(model.info.path, out, log=lambda m: None))

    # -- drag and drop ------------------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        if self.tabs.currentWidget() is self.compare_panel and self._drop_on_compare(event):
            return
        if self.tabs.currentWidget() in (self.interpolate_panel, self.style_mix_panel) and self._drop_faces(event):
            return
        for url in event.mimeData().urls():
            path = url.toLocalFile()
            if (os.path.isdir(path) and not (Path(path) / "checkpoints").is_dir()) or is_archive(path):
                self.tabs.setCurrentWidget(self.dataset_panel)
                self.dataset_panel.load(path)
            elif path.lower().endswith(MODEL_SUFFIXES) or (Path(path) / "checkpoints").is_dir():
                self.open_model_file(path)
            elif is_image_name(path) and self.open_face_file(path):
                pass
            elif is_image_name(path) and self._can_find_faces():
                self._find_faces_like([url.toLocalFile() for url in event.mimeData().urls()])
            elif is_image_name(path):
                self.statusBar().showMessage(f"{os.path.basename(path)} is one image: to train on images, drop the "
                                             "folder that holds them; with a model open, the model's face most like "
                                             "it is looked for", 10000)
                continue
            else:
                self.statusBar().showMessage(f"Not a folder (or .zip or .tar) of images, nor a model: {path}", 8000)
                continue
            event.acceptProposedAction()
            return

    def _find_faces_like(self, paths: list[str]) -> None:
        """Pictures dropped with a model open: its face most like each, looked for in a window of its own (a few at a
        time: each search keeps the processor busy)."""
        pictures = [p for p in paths if is_image_name(p) and os.path.isfile(p) and face_origin(p) is None
                    and found_face(p) is None]
        self.tabs.setCurrentWidget(self.generate_panel)
        for picture in pictures[:MAX_PICTURES_FOUND]:
            self.generate_panel.find_face(picture)
        if len(pictures) > MAX_PICTURES_FOUND:
            self.statusBar().showMessage(f"Looking for faces like the first {MAX_PICTURES_FOUND} of the "
                                         f"{len(pictures)} pictures: drop the others when these are done", 15000)

    def _can_find_faces(self) -> bool:
        """Whether a picture dropped on the window is looked for among the open model's faces."""
        model = self.state.model
        return model is not None and model.info.family != "images"

    def _drop_on_compare(self, event) -> bool:
        """On Compare, every dropped model joins its list, and every folder or zip of images joins it as a row of
        images (elsewhere a folder opens as the dataset and a model in Generate)."""
        models, image_sets = [], []
        for url in event.mimeData().urls():
            path = url.toLocalFile()
            if (os.path.isdir(path) and not (Path(path) / "checkpoints").is_dir()) or is_archive(path):
                image_sets.append(path)
            elif path.lower().endswith(MODEL_SUFFIXES) or (Path(path) / "checkpoints").is_dir():
                models.append(path)
        if not models and not image_sets:
            return False  # said as anywhere else: one image, or something that is neither
        self.compare_panel.add_paths(models)
        for path in image_sets:
            self.compare_panel.add_images(path)
        event.acceptProposedAction()
        return True

    def _drop_faces(self, event) -> bool:
        """Faces saved by the studio, dropped on Interpolate, become its walk: through their seeds in the order they
        are dropped. On Style mixing each one's styles go over each other one's face, as Generate's *Style-mix
        selected* does. Their model opens, at the first face's truncation. Faces found for pictures take part at their
        latents. One face alone is neither: it opens in Generate, as anywhere else."""
        panel = self.tabs.currentWidget()
        faces = [(path, origin) for path in (url.toLocalFile() for url in event.mimeData().urls())
                 if is_image_name(path) for origin in [face_origin(path) or found_face(path)] if origin is not None]
        seeds = [key for _, origin in faces for key in ([origin.latent] if isinstance(origin, FoundFace)
                                                        else origin.seeds)]
        if len(seeds) < 2:
            return False
        event.acceptProposedAction()
        origin = faces[0][1]
        truncation = next((o.truncation for _, o in faces if not isinstance(o, FoundFace)), 1.0)
        found = [os.path.basename(path) for path, o in faces if isinstance(o, FoundFace)]
        found_paths = [os.path.abspath(path) for path, o in faces if isinstance(o, FoundFace)]
        if panel is self.style_mix_panel and origin.family and origin.family != "stylegan2":
            self.statusBar().showMessage(f"Style mixing needs StyleGAN2 faces: these were made by a {origin.family} "
                                         "model (drop them on Interpolate or the window to see them)", 15000)
            return True
        where: dict[str, str] = {}  # each recorded model's place now
        for path, face in faces:
            if face.model not in where:
                where[face.model] = self._model_of(path, face)
                if not where[face.model]:
                    return True
        first, *others = where.values()
        if any(not same_file(first, other) for other in others):
            self.statusBar().showMessage("These faces were made by different models: "
                                         f"{'a walk' if panel is self.interpolate_panel else 'style mixing'} is "
                                         "within one model's faces "
                                         f"({', '.join(os.path.basename(m) for m in where.values())})", 15000)
            return True
        labels = iter(found)
        shown = [f"[{next(labels)}]" if isinstance(key, np.ndarray) else str(key) for key in seeds[:8]]
        named = (f"{len(seeds):,} saved faces ({'' if found else 'seeds '}{', '.join(shown)}"
                 f"{', …' * (len(seeds) > 8)})")

        def show(model: GeneratorModel, render: bool) -> str:
            if panel is self.interpolate_panel:
                self.interpolate_panel.set_seeds(seeds, truncation, render=render, names=found, found_by=first,
                                                 paths=found_paths)
                return f"A walk through {named} of {model.info.label}{self._differs(origin, model)}"
            if found:
                self.style_mix_panel.set_faces(seeds, found, first, truncation, render=render, paths=found_paths)
            else:
                self.style_mix_panel.set_seeds(seeds, seeds, truncation, render=render)
            return f"The styles of {named} of {model.info.label}, mixed{self._differs(origin, model)}"

        self._show_faces_of(first, show)
        return True

    # -- device and shutdown -------------------------------------------------------------------------------
    def _find_device(self) -> None:
        try:
            from trainers.device import describe_device, resolve_device

            import torch

            text = describe_device(resolve_device("auto"))
            gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if gpus > 1:
                text += f" (+{gpus - 1} more)"
        except Exception as exc:  # a broken CUDA install should not stop the studio
            text, gpus = f"CPU ({type(exc).__name__})", 0
        self.device_found.emit(text)
        self.gpus_found.emit(gpus)

    def closeEvent(self, event) -> None:
        if self.train_panel.is_training():
            answer = QMessageBox.question(self, "Training is running",
                                          "Stop training, save a checkpoint and quit?",
                                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.shutdown()
        self.train_panel.save_form(self.settings)
        for prefix, panel in self._remembered_panels():
            save_fields(self.settings, prefix, panel, panel.REMEMBERED)
        for prefix, panel in (("interpolate", self.interpolate_panel), ("style_mix", self.style_mix_panel)):
            self.settings.setValue(f"{prefix}/saved_faces", panel.remembered_faces())
        self.settings.setValue("export_folder", self.state.export_folder)
        self.settings.setValue("compare/rows", self.compare_panel.remembered_rows())
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every background thread: training saves its checkpoint first."""
        self.statusBar().showMessage("Stopping …")
        self.train_panel.stop_and_wait()
        self.dataset_panel.cancel(wait=True)
        self.generate_panel.shutdown()
        self.interpolate_panel.shutdown()
        self.compare_panel.shutdown()
        self.renderer.close()

    def _on_folder_loaded(self, folder: str) -> None:
        from studio.demo import demo_folder_path

        if Path(folder) != demo_folder_path():
            self._remember("recent_folders", folder)

    def open_demo_faces(self) -> None:
        """The procedural demo faces (written on first use, in the background) as the dataset."""
        from studio.demo import demo_folder

        self.dataset_panel.summary.setText("Drawing the demo faces …")
        self.renderer.submit("demo-folder", demo_folder)

    def open_demo(self) -> None:
        """What `make run` shows on a machine with no data: the demo faces and the demo models."""
        from studio.demo import demo_models

        self.open_demo_faces()
        models = demo_models()
        for path in models[1:]:
            self.renderer.submit(f"open-model-extra-{path.name}", lambda p=path: open_model(p))
        if models:
            self.open_model_file(str(models[0]))
