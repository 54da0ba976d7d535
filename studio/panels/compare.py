"""Compare panel: 2 to 6 models or checkpoints side by side on the same seeds, a table of what each is,
scores against the open dataset, and the comparison sheet as PNG. Real images join as rows too: the open
dataset (its score against other faces of its own is the floor a model can reach) and any folder or zip of
images, such as samples from another tool."""

from __future__ import annotations

import datetime
import json
import os
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QLabel, QListWidget, QListWidgetItem, QMenu, QPushButton, QSpinBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from studio.dialogs import IMAGE_FILTERS, ask_save_path
from studio.icons import set_icon
from studio.state import SCORE_IMAGES, StudioState
from studio.widgets.faces import ImageView
from studio.widgets.layout import row, split
from studio.widgets.truncation import TruncationSlider
from studio.workers import Renderer
from trainers.checkpoint import list_checkpoints
from trainers.data import ARCHIVE_PATTERNS, DatasetError, ImageSet, load_folder
from trainers.images import captioned_rows, save_image, sheet_cell
from trainers.inference import GeneratorModel, ImageSetModel, open_model
from trainers.metrics import INCEPTION_FILE, floor_pair

MAX_MODELS = 6  # rows on the sheet: models and sets of images together
def describe(model: GeneratorModel) -> list[str]:
    info = model.info
    if isinstance(model, ImageSetModel):
        return [info.label, f"{len(model.images):,} images", f"{info.resolution}", "", "", "", ""]
    return [info.label, info.family, f"{info.resolution}", f"{info.step:,}", f"{info.images_seen:,}",
            str(datetime.timedelta(seconds=int(info.training_seconds))), info.provider]


def title(model: GeneratorModel) -> str:
    """A row's caption on the sheet."""
    return f"{model.info.label} (images)" if isinstance(model, ImageSetModel) else model.info.label


COLUMNS = ["model", "family", "resolution", "step", "images seen", "training time", "runs on", "SWD", "FID", "KID"]
SCORES = ("SWD", "FID", "KID")
OTHER_SIZE = "dataset is"  # a score's place, for a model whose faces are not the dataset's size: "dataset is 64px"
SCORE_FORMATS = {"SWD": ".2f", "FID": ".2f", "KID": ".4f"}  # fixed decimals, so that a column's figures line up
NUMBER_COLUMNS = {"resolution", "step", "images seen", "training time", *SCORES}  # right-aligned


class _ScoringCancelled(Exception):
    """Raised between batches of a score when the user cancels it."""


class ComparePanel(QWidget):
    scored = Signal(str, object)  # model path, {"SWD": ...} or an error message
    scoring_done = Signal()
    score_progress = Signal(int, int, str)  # models scored so far, models to score, the one being scored
    REMEMBERED = ("first_seed", "count", "truncation")  # kept for the next session
    inception_changed = Signal(str)

    def __init__(self, state: StudioState, renderer: Renderer, parent=None):
        super().__init__(parent)
        self.state, self.renderer = state, renderer
        self.sheet: np.ndarray | None = None
        self.shown: list[GeneratorModel] = []  # the models on the sheet, top to bottom
        self.sheet_seeds: list[int] = []  # the sheet's seeds, left to right
        self.sheet_face = 0  # pixels of a face on the sheet
        self.scores: dict[str, object] = {}
        self.scored_against = "the dataset"  # or "the held-out images": what the table's scores were taken on
        self.image_sets: dict[str, ImageSetModel] = {}  # rows of real images, by path: the open dataset, and added ones
        self.dataset_path = ""  # the open dataset's folder or zip: its row scores real against real
        self._added: set[str] = set()  # image sets the user added (they stay when another dataset opens)
        self._score_thread: threading.Thread | None = None
        self._cancel_scoring = threading.Event()
        self._to_restore: list[dict] = []  # the last session's ticked rows, opened when the panel is first shown
        self._ticks: set[str] = set()  # rows being restored: ticked when they join the list
        self._restore_note = ""  # which of them have gone, said with the first sheet drawn
        self._removed: set[str] = set()  # models the user took out of the list (they stay open for the rest)

        self.models = QListWidget()
        self.models.setToolTip("Tick 2 to 6 models or sets of images; all of them render the same seeds (a set of "
                               "images shows one of its images per seed). Right-click a row, or press Delete, to "
                               "take it out of the list")
        # Each model on two lines (its name, then family and step); a name too long for the list loses its
        # middle rather than its end, so that the run and the step both stay readable.
        self.models.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.models.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.models.setSpacing(2)
        remove = QAction("Remove from the list", self.models)
        remove.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        remove.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        remove.triggered.connect(self.remove_current)
        self.models.addAction(remove)
        self.models.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)  # right-click, or Delete
        self.add_button = QPushButton("Add model…")
        self.add_run_button = QPushButton("Add a run's checkpoints…")
        self.add_run_button.setToolTip("Every checkpoint of one run, to compare across training time")
        self.add_images_button = QPushButton("Add images…")
        self.add_images_button.setToolTip("A folder, zip or tar of images (samples from another tool, another dataset) "
                                          "as a row of its own; the open dataset is in the list already")
        images_menu = QMenu(self.add_images_button)
        images_menu.addAction("A folder of images…", self.choose_image_folder)
        images_menu.addAction("A zip or tar of images…", self.choose_image_zip)
        self.add_images_button.setMenu(images_menu)
        self.first_seed = QSpinBox(); self.first_seed.setRange(0, 2**31 - 1)
        self.count = QSpinBox(); self.count.setRange(1, 32); self.count.setValue(6)
        self.truncation = TruncationSlider()
        self.truncation.setToolTip("Truncation ψ of the StyleGAN2 rows on the sheet (lower is more typical and less "
                                   "varied); scores are always taken untruncated, as the metrics are defined")
        self.sheet_psi = 1.0  # the StyleGAN2 rows' truncation on the sheet shown
        self.save_button = QPushButton("Save sheet…")
        self._inception_path = ""
        self.score_button = QPushButton(self._score_label())
        self.score_button.setToolTip(f"Sliced Wasserstein distance of {SCORE_IMAGES} faces per model against the open "
                                     "dataset's, or its held-out images' while Train's Hold out is set (and FID and "
                                     "KID when an Inception weights file is set): lower is closer. Runs in the "
                                     "background.")
        self.inception_button = QPushButton("Inception weights for FID/KID…")
        self.inception_button.setToolTip(f"The standard {INCEPTION_FILE} file; without it only SWD is computed")
        for button, name in ((self.add_button, "folder"), (self.add_run_button, "folder"),
                             (self.add_images_button, "archive"), (self.save_button, "grid")):
            set_icon(button, name)
        self.message = QLabel("")
        self.message.setWordWrap(True)  # long messages wrap rather than widen the list
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.view = ImageView("The models ticked in the list appear here side by side, on the same seeds")
        self.view.describe = self.describe  # hovering says which model and seed made a face

        left = QVBoxLayout()
        left.addWidget(QLabel("Models and images"))
        left.addWidget(self.models, 1)
        left.addWidget(self.add_button)
        left.addWidget(self.add_run_button)
        left.addWidget(self.add_images_button)
        left.addLayout(row(QLabel("First seed"), self.first_seed, QLabel("Seeds"), self.count, stretch=False))
        left.addLayout(row(QLabel("Truncation"), self.truncation, self.truncation.label, stretch=False))
        left.addWidget(self.save_button)
        left.addWidget(self.score_button)
        left.addWidget(self.inception_button)
        left.addWidget(self.message)
        left_widget = QWidget(); left_widget.setLayout(left)
        right = split(self.view, self.table, sizes=[500, 150], vertical=True)
        layout = QVBoxLayout(self)
        layout.addWidget(split(left_widget, right, sizes=[280, 800]))

        self.add_button.clicked.connect(self.choose_models)
        self.add_run_button.clicked.connect(self.choose_run)
        self.models.itemChanged.connect(lambda item: self.update_sheet())
        self.first_seed.valueChanged.connect(self.update_sheet)
        self.count.valueChanged.connect(self.update_sheet)
        self.truncation.valueChanged.connect(self.update_sheet)
        self.save_button.clicked.connect(lambda: self.save())
        self.score_button.clicked.connect(self.score)
        self.inception_button.clicked.connect(self.choose_inception)
        self.scored.connect(self._on_scored)
        self.scoring_done.connect(self._on_scoring_done)
        self.score_progress.connect(lambda done, total, name: self.message.setText(
            f"Scoring {name} ({done + 1} of {total}) …"))
        renderer.done.connect(self._on_rendered)
        renderer.failed.connect(self._on_failed)
        renderer.progress.connect(lambda key, done, total: key.startswith("compare-images-") and self.message.setText(
            f"Reading {Path(key[len('compare-images-'):]).name}: {done:,} of {total:,} images …"))
        state.models_changed.connect(self._refresh_list)
        state.dataset_changed.connect(self._on_dataset)
        state.holdout_changed.connect(lambda _: self.score_button.isEnabled() and not self.scoring()
                                      and self.score_button.setText(self._score_label()))

    def remembered_rows(self) -> str:
        """The sheet's rows for the next session, as JSON: the ticked models and sets of images (the open dataset's
        row comes back with the dataset, and is ticked again if it was)."""
        return json.dumps([{"path": path, "images": path in self.image_sets} for path in self.checked_paths()])

    def restore_rows(self, text: str) -> None:
        """The last session's sheet (remembered_rows), opened in the background once the panel is first shown, not
        at start-up; rows whose files have gone are told and left out."""
        try:
            rows = json.loads(text or "[]")
        except ValueError:
            rows = []
        self._to_restore = [r for r in rows if isinstance(r, dict) and isinstance(r.get("path"), str)]

    def showEvent(self, event) -> None:
        super().showEvent(event)
        rows, self._to_restore = self._to_restore, []
        gone = [r["path"] for r in rows if not os.path.exists(r["path"])]
        for r in rows:
            if r["path"] in gone:
                continue
            self._ticks.add(r["path"])
            item = self._item(r["path"])
            if item is not None:  # here already (the open dataset, or the model open in Generate)
                self._ticks.discard(r["path"])
                item.setCheckState(Qt.CheckState.Checked)
            elif r.get("images"):
                self.add_images(r["path"])
            else:
                self.add_paths([r["path"]])
        if gone:  # said now, and with the sheet once it is drawn
            self._restore_note = f"Not on the sheet again, no longer there: {', '.join(gone)}."
            self.message.setText(self._restore_note)

    def entry(self, path: str) -> GeneratorModel:
        """What a row of the list is: a model, or a set of images."""
        return self.image_sets.get(path) or self.state.models[path]

    def _item(self, path: str) -> QListWidgetItem | None:
        for i in range(self.models.count()):
            if self.models.item(i).data(Qt.ItemDataRole.UserRole) == path:
                return self.models.item(i)
        return None

    def _on_dataset(self, images: ImageSet, name: str) -> None:
        """The open dataset heads the list, unticked: tick it to see real faces beside the models' and to score
        them against other real faces (the floor)."""
        path = images.report.folder
        old = self.dataset_path
        self.dataset_path = path
        item = self._item(old) if old and old != path else None
        if item is not None and old in self._added:  # the user's own row stays, as a set of images
            self._label(item)
        elif item is not None:  # the dataset closed: its row goes with it
            self.image_sets.pop(old, None)
            self.scores.pop(old, None)
            self.models.takeItem(self.models.row(item))
        self._add_image_set(ImageSetModel(images, path), at=0)

    def _label(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        model = self.image_sets[path]
        what = "the open dataset" if path == self.dataset_path else "images"
        item.setText(f"{model.info.label}\n{what} · {len(model.images):,} at {model.info.resolution}px")
        item.setToolTip(path)

    def _add_image_set(self, model: ImageSetModel, at: int | None = None) -> None:
        """A row of images joins the list (or takes the place of the same folder read again, ticked or not)."""
        path = model.info.path
        self.image_sets[path] = model
        self.scores.pop(path, None)  # read again (at another size, say): an old score would no longer hold
        item = self._item(path)
        self.models.blockSignals(True)
        if item is None:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if path in self._ticks else Qt.CheckState.Unchecked)
            self._ticks.discard(path)
            if at is None:
                self.models.addItem(item)
            else:
                self.models.insertItem(at, item)
        self._label(item)
        self.models.blockSignals(False)
        self.update_sheet()

    def remove_current(self) -> None:
        """The current row leaves the list (a model stays open in Generate if it is open there; adding it again
        brings the row back)."""
        item = self.models.currentItem()
        if item is None:
            return
        path = item.data(Qt.ItemDataRole.UserRole)
        self.models.takeItem(self.models.row(item))
        self.scores.pop(path, None)
        if path in self.image_sets:
            del self.image_sets[path]
            self._added.discard(path)
        else:
            self._removed.add(path)
        self.update_sheet()

    def _refresh_list(self) -> None:
        present = {self.models.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.models.count())}
        self.models.blockSignals(True)
        for path, model in self.state.models.items():
            if path in present or path in self._removed:
                continue
            item = QListWidgetItem(f"{model.info.label}\n{model.info.family} · step {model.info.step:,}")
            item.setToolTip(model.info.path)
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            ticked = path in self._ticks or (not self._ticks and len(self.checked_paths()) < 2)
            self._ticks.discard(path)
            item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
            self.models.addItem(item)
        self.models.blockSignals(False)
        self.update_sheet()

    def checked_paths(self) -> list[str]:
        return [self.models.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.models.count())
                if self.models.item(i).checkState() == Qt.CheckState.Checked]

    def set_checked(self, paths: list[str]) -> None:
        self.models.blockSignals(True)
        for i in range(self.models.count()):
            item = self.models.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in paths
                               else Qt.CheckState.Unchecked)
        self.models.blockSignals(False)
        self.update_sheet()

    def add_paths(self, paths: list[str]) -> None:
        """Open models in the background; each joins the list when it is ready."""
        for path in paths:
            self.renderer.submit(f"compare-open-{path}", lambda p=path: open_model(p))

    def choose_models(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add models", "", "Models (*.onnx *.pt);;All files (*)")
        self.add_paths(paths)

    def choose_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add the checkpoints of a run")
        if folder:
            self.add_paths([str(p) for p in list_checkpoints(folder)])

    def choose_image_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of images")
        if folder:
            self.add_images(folder)

    def choose_image_zip(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add an archive of images", "",
                                              f"Archives of images ({ARCHIVE_PATTERNS})")
        if path:
            self.add_images(path)

    def add_images(self, path: str) -> None:
        """Read a folder or zip of images in the background, at the open dataset's size (64 px without one), and
        add it to the list as a row of its own."""
        path = os.path.abspath(path)  # as the dataset's own path is written, so that the two are recognised as one
        resolution = self.state.dataset.resolution if self.state.dataset is not None else 64
        key = f"compare-images-{path}"
        self.message.setText(f"Reading {Path(path).name} …")

        def job():
            try:
                images = load_folder(path, resolution, progress=lambda done, total: self.renderer.progress.emit(
                    key, done, total), cancel=lambda: self.renderer.superseded(key))
            except DatasetError as exc:
                return str(exc)
            return ImageSetModel(images, path)

        self.renderer.submit(key, job)

    def update_sheet(self) -> None:
        paths = self.checked_paths()
        if len(paths) < 2:
            self.message.setText("Tick at least two rows." if self.models.count() > 1 else "Add two or more models.")
            return
        if len(paths) > MAX_MODELS:
            self.message.setText(f"At most {MAX_MODELS} rows side by side; untick some.")
            return
        self.message.setText("")
        models = [self.entry(p) for p in paths]
        seeds = list(range(self.first_seed.value(), self.first_seed.value() + self.count.value()))
        psi = self.truncation.psi()

        def job():
            faces = [m.generate(seeds, truncation=psi) if m.info.style_based else m.generate(seeds) for m in models]
            return models, seeds, psi, faces

        self.renderer.submit("compare-sheet", job)

    def _on_rendered(self, key: str, result) -> None:
        if key.startswith("compare-open-"):
            known = result.info.path in self.state.models
            self._removed.discard(result.info.path)
            self.state.add_model(result)
            if known:  # (taken out of the list before: it comes back)
                self._refresh_list()
        elif key.startswith("compare-images-"):
            if isinstance(result, str):  # not a set of images: why
                self._ticks.discard(key[len("compare-images-"):])
                self.message.setText(result)
            else:
                restored = result.info.path in self._ticks  # (ticked as it joins)
                self._added.add(result.info.path)
                self._add_image_set(result)
                if not restored:
                    self.message.setText(f"Added {result.info.label}: tick it to see it beside the models")
        elif key == "compare-sheet":
            models, seeds, psi, faces = result
            self.shown, self.sheet_seeds, self.sheet_psi = models, seeds, psi
            self.sheet_face = max(f.shape[-1] for f in faces)
            self.sheet = captioned_rows([title(m) for m in models], faces)
            self.view.set_image(self.sheet)
            self._fill_table()
            self.table.resizeColumnsToContents()
            # (what the scores mean stays said when the sheet is drawn again after them)
            truncated = psi != 1 and any(m.info.style_based for m in models)
            self.message.setText(f"Seeds {seeds[0]}–{seeds[-1]} in every row"
                                 + (f", StyleGAN2 rows at ψ {psi:.2f}." if truncated else ".")
                                 + (f" {self._scores_message()}" if self.scores else "")
                                 + (f" {self._restore_note}" if self._restore_note else ""))
            self._restore_note = ""

    def _on_failed(self, key: str, message: str) -> None:
        if key.startswith("compare"):
            for prefix in ("compare-open-", "compare-images-"):  # (a row of the last session's sheet, say)
                if key.startswith(prefix):
                    self._ticks.discard(key[len(prefix):])
            self.message.setText(f"Error: {message}")

    def describe(self, x: int, y: int) -> str:
        """What the sheet shows at (x, y): a model's caption or one of its faces."""
        if self.sheet is None:
            return ""
        r, c = sheet_cell(x, y, self.sheet_face, len(self.shown), len(self.sheet_seeds))
        if r is None:
            return ""
        model = self.shown[r]
        info = model.info
        image_set = model if isinstance(model, ImageSetModel) else None
        if c is None:  # its caption
            if image_set is not None:
                return f"{info.path}\n{len(image_set.images):,} images at {info.resolution}px"
            return f"{info.path}\n{info.family}, step {info.step:,}, {info.images_seen:,} images seen"
        seed = self.sheet_seeds[c]
        if image_set is not None:
            return f"{image_set.images.paths[image_set.index(seed)]} from {info.label} (seed {seed})"
        psi = f", ψ {self.sheet_psi:.2f}" if info.style_based and self.sheet_psi != 1 else ""
        return f"Seed {seed} from {info.label} (step {info.step:,}{psi})"

    def _fill_table(self) -> None:
        self.table.setRowCount(len(self.shown))
        for r, model in enumerate(self.shown):
            score = self.scores.get(model.info.path)
            if isinstance(score, dict):
                figures = [format(score[k], SCORE_FORMATS[k]) if k in score else "" for k in SCORES]
            else:
                figures = [score or "", "", ""]
            tip = self._score_tip(model, score) if isinstance(score, dict) else ""
            for c, text in enumerate(describe(model) + figures):
                item = QTableWidgetItem(text)
                if COLUMNS[c] in NUMBER_COLUMNS and (COLUMNS[c] not in SCORES or isinstance(score, dict)):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c >= len(COLUMNS) - len(SCORES):
                    item.setToolTip(tip)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()

    def _score_tip(self, model: GeneratorModel, score: dict) -> str:
        """What a row's score compared, on how many images."""
        n = f"{score['n']:,}"
        if model.info.path == self.dataset_path:
            return (f"Real against real: {n} of the dataset's images against {n} others, the lowest score a model can "
                    "expect on as many images (the fewer the images, the higher any score)")
        return f"{n} of its images against {n} of {self.scored_against}"

    @property
    def inception_path(self) -> str:
        """The Inception weights file for FID and KID ("" for none: SWD alone)."""
        return self._inception_path

    @inception_path.setter
    def inception_path(self, path: str) -> None:
        self._inception_path = path
        self.score_button.setText(self._score_label())

    def _score_label(self) -> str:
        against = "held-out images" if self.state.holdout else "the dataset"
        return f"Score against {against} ({'SWD, FID, KID' if self.inception_path else 'SWD'})"

    def scoring(self) -> bool:
        return self._score_thread is not None and self._score_thread.is_alive()

    def score(self) -> None:
        """SWD of each model in the sheet against the open dataset, in a background thread; while it runs, the
        button cancels it (within a batch: of faces, of SWD's patches or levels, or of FID's features)."""
        if self.scoring():
            self._cancel_scoring.set()
            self.score_button.setEnabled(False)
            self.message.setText("Cancelling …")
            return
        images = self.state.dataset
        if images is None or not self.shown:
            self.message.setText("Open a dataset and show two or more models first." if images is None else "")
            return
        models, real, dataset_path = list(self.shown), images.images, self.dataset_path
        # With Train's Hold out, the real faces are drawn from the dataset's last N images, as a run draws them
        # (seed 0, then sorted): the figure a run gives a checkpoint is the one this gives it.
        holdout = min(self.state.holdout, len(real))
        start = len(real) - holdout if holdout else 0
        against = "the held-out images" if holdout else "the dataset"
        if against != self.scored_against:  # scores on other images do not compare: a fresh table
            self.scores.clear()
            self.scored_against = against
            self._fill_table()
        self._cancel_scoring.clear()
        self.score_button.setText("Cancel scoring")
        self.message.setText("Scoring …")

        metrics = ["swd", "fid", "kid"] if self.inception_path else ["swd"]
        inception = self.inception_path or None

        cancel = self._cancel_scoring

        def check(done: int, total: int) -> None:  # between batches of faces, of SWD's work and of FID's features
            if cancel.is_set():
                raise _ScoringCancelled()

        def work() -> None:
            from trainers.device import resolve_device
            from trainers.metrics import evaluate

            device = resolve_device("auto").type  # FID and KID's Inception network runs on the GPU when there is one
            rng = np.random.default_rng(0)
            pick = start + np.sort(rng.permutation(len(real) - start)[:SCORE_IMAGES])
            for number, model in enumerate(models):
                if cancel.is_set():
                    break
                self.score_progress.emit(number, len(models), model.info.label)
                if model.info.resolution != real.shape[-1]:
                    self.scored.emit(model.info.path, f"{OTHER_SIZE} {real.shape[-1]}px")
                    continue
                try:
                    against = real[pick]
                    if model.info.path == dataset_path:  # real faces against other real faces: the floor
                        ours, others = floor_pair(len(real), pick)
                        against, fake = real[ours], real[others]
                    elif isinstance(model, ImageSetModel):  # each image once, however few there are
                        fake = model.generate(list(range(min(len(pick), len(model.images)))))
                    else:
                        fake = model.generate_many(range(len(pick)), each=check)
                    n = min(len(against), len(fake))
                    if n < len(against):  # fewer images than the dataset's pick: as many of it, at random
                        against = against[np.sort(rng.permutation(len(against))[:n])]
                    scores = evaluate(against, fake[:n], metrics, inception=inception, device=device,
                                      progress=check)
                    self.scored.emit(model.info.path, {**scores, "n": n})
                except _ScoringCancelled:
                    break
                except Exception as exc:
                    self.scored.emit(model.info.path, f"error: {exc}")
            self.scoring_done.emit()

        self._score_thread = threading.Thread(target=work, name="compare-scoring", daemon=True)
        self._score_thread.start()

    def _on_scoring_done(self) -> None:
        self.score_button.setText(self._score_label())
        self.score_button.setEnabled(True)
        if self._cancel_scoring.is_set():
            self.message.setText("Scoring cancelled; the scores made so far are in the table.")
        elif self.scores:
            self.message.setText(self._scores_message())

    def _on_scored(self, path: str, result) -> None:
        self.scores[path] = result
        self._fill_table()
        self.message.setText(self._scores_message())

    def _scores_message(self) -> str:
        text = f"Scores against {self.scored_against} (SWD x1e3, FID, KID): lower is closer."
        if isinstance(self.scores.get(self.dataset_path), dict):
            text += (f" The dataset's own row scores {Path(self.dataset_path).name} against other images of its own: "
                     "about as low as a model can go.")
        if any(isinstance(s, str) and s.startswith(OTHER_SIZE) for s in self.scores.values()):
            text += (" A model marked 'dataset is …px' makes faces of another size: read the dataset at that size "
                     "(Dataset tab) to score it.")
        return text

    def choose_inception(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Inception weights", "", "PyTorch weights (*.pth *.pt)")
        if path:
            self.set_inception(path)

    def set_inception(self, path: str) -> None:
        """Use this Inception weights file for FID and KID (remembered by the main window)."""
        self.inception_path = path
        self.inception_changed.emit(path)
        self.message.setText(f"FID and KID will use {Path(path).name}")

    def shutdown(self) -> None:
        self._cancel_scoring.set()
        if self._score_thread is not None:
            self._score_thread.join(120)

    def save(self, path: str | None = None) -> str | None:
        if self.sheet is None:
            return None
        path = path or ask_save_path(self, self.state, "Save comparison sheet", "comparison.png", IMAGE_FILTERS)
        if path:
            try:
                save_image(path, self.sheet, {"models": "; ".join(m.info.path for m in self.shown),
                                              "first_seed": str(self.first_seed.value()),
                                              "seeds": str(self.count.value()),
                                              "truncation": f"{self.sheet_psi:g}"})
            except (OSError, ValueError) as exc:
                self.message.setText(f"Cannot write {path}: {exc}")
                return None
        return path or None
