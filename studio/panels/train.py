"""Train panel: choose a family and its key settings, then start, pause, resume and stop a background run
while live samples, loss curves, speed and time left come in."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QGroupBox, QLabel, QLineEdit, QListWidget, QListWidgetItem, QMessageBox, QPushButton,
                               QSlider, QSpinBox, QVBoxLayout, QWidget)

from studio.dialogs import ask_save_path
from studio.icons import set_icon
from studio.state import SCORE_IMAGES, StudioState
from studio.widgets.faces import ImageView
from studio.widgets.layout import on_enter, row, split
from studio.widgets.loss_plot import SCORE, LossPlot
from studio.widgets.remember import restore_fields, save_fields
from studio.workers import Call, ProcessRun, TrainingRun
from trainers import events as ev
from trainers.checkpoint import CheckpointError, checkpoint_step, latest_checkpoint, list_checkpoints
from trainers.config import FAMILIES, FAMILY_DEFAULTS, ConfigError, TrainConfig
from trainers.events import format_duration
from trainers.loop import read_log, resume_config, scored_against
from trainers.timelapse import (TimelapseCancelled, TimelapseError, snapshots, timelapse_snapshots,
                                write_timelapse)

TIPS = {
    "family": "dcgan: the classic sample; dcgan-tutorial: PyTorch's tutorial nets; wgan-clip / wgan-gp: "
              "Wasserstein losses; stylegan2: the best faces, slower per image",
    "batch": "Images per discriminator step. Larger is faster on a GPU and smoother, smaller fits in less memory",
    "steps": "Generator steps for the whole run (a resumed run continues to this)",
    "minutes": "Stop after this many minutes of training (0: no time limit)",
    "lr_g": "Generator learning rate (the family's default is usually right)",
    "lr_d": "Discriminator / critic learning rate",
    "n_critic": "Discriminator steps per generator step (WGAN families train the critic more)",
    "z_dim": "Size of the random latent vector each face is made from",
    "preset": "StyleGAN2 capacity (generator parameters): tiny (0.33M: the one for a CPU, about 25 img/s at 64 px on "
              "a 2-core CPU), small (2.4M, the default: fast on a GPU, about 2 img/s on that CPU), medium (6.0M), "
              "base (23.8M, for a GPU)",
    "augment": "StyleGAN2: the discriminator sees every image, real or generated, randomly shifted, cut out and "
               "recoloured (DiffAugment), so that it cannot memorise a small dataset; the faces themselves are not "
               "changed. It slows learning: on 500 faces (tiny preset, 32 px, 69,000 images) faces were worse with "
               "it than without (docs/QUALITY.md). Turn it on when a small folder's faces stop improving or get worse",
    "score_every": f"Every this many steps, score {SCORE_IMAGES} generated faces against the dataset's faces with "
                   "the sliced Wasserstein distance (SWD; lower is better): the plot shows it as points on a "
                   "right-hand axis, since falling losses do not say that the faces improve, and the best-scoring "
                   "checkpoint is kept. Each score takes seconds on a GPU machine; at 64 px on a 2-core CPU, about "
                   "6 s for a DCGAN and half a minute for StyleGAN2 small. It does not count as training time. "
                   "The faces are scored against the held-out images with Hold out, else against the training "
                   "images: the figure is the one Compare's Score button gives that step's checkpoint",
    "holdout": "The last this many images of the dataset (in file order) never train, nor do the other images that "
               "are copies of them (re-encoded, recoloured, re-cropped or mirrored). The run's scores use them "
               "instead of the training images, so that they measure faces the model has never seen: a model that "
               "copies its training faces gains nothing. Compare's Score button scores on them too, and the "
               "command line's eval --real-last N",
    "device": "auto uses the GPU when there is one",
    "processes": "Train with several processes through torchrun: one per GPU (NCCL), or gloo processes on a CPU",
    "out": "The run folder: config, checkpoints, sample grids and the loss log go here",
    "cuda_graphs": "Capture each training step once as a CUDA graph and replay it: the same training with far "
                   "fewer kernel launches (one CUDA GPU, one process)",
    "bf16": "Matrix work in bfloat16 on the GPU's tensor cores (weights and losses stay float32)",
}


DIFFAUGMENT = "translation,cutout,color"  # the Augment box: all three, as the DiffAugment paper uses on small sets
NOTES_SHOWN = 4  # the newest notes the engine gave about a run, under its status line


def default_run_folder() -> str:
    """runs/studio where the studio was started (the project folder, under `make run`), or in the home folder when
    that place cannot be written (a desktop launcher may start the studio in /)."""
    base = os.getcwd() if os.access(os.getcwd(), os.W_OK) else os.path.join(os.path.expanduser("~"), "GAN Studio")
    return os.path.abspath(os.path.join(base, "runs", "studio"))


def next_run_folder(folder: str) -> str:
    """runs/studio -> runs/studio-2 (or -3 …): the first sibling that does not exist or is empty."""
    base = re.sub(r"-\d+$", "", os.path.normpath(folder))
    n = 2
    while os.path.exists(f"{base}-{n}") and (not os.path.isdir(f"{base}-{n}") or os.listdir(f"{base}-{n}")):
        n += 1
    return f"{base}-{n}"


class TrainPanel(QWidget):
    open_checkpoint = Signal(str)  # a checkpoint to open in Generate
    trained = Signal(str)  # a run finished or was stopped: its newest checkpoint
    activity = Signal(str)  # what training is doing, in a few words for the window title ("" when idle)

    def __init__(self, state: StudioState, parent=None):
        super().__init__(parent)
        self.state = state
        self.run: TrainingRun | None = None
        self.reading: Call | None = None  # a run's checkpoint being read before it resumes
        self.closing = False
        self.started_at = 0.0
        # Settings the form does not show (network widths, snapshot interval...), applied to every new run.
        self.extra_settings: dict = {}
        self.gpus: int | None = None  # CUDA GPUs found (None until the studio's device probe reports)

        self.family = QComboBox()
        self.family.addItems(FAMILIES)
        self.batch = QSpinBox(); self.batch.setRange(2, 4096); self.batch.setValue(64)
        self.steps = QSpinBox(); self.steps.setRange(1, 10_000_000); self.steps.setValue(2000)
        self.minutes = QDoubleSpinBox(); self.minutes.setRange(0, 10_000); self.minutes.setDecimals(1)
        self.minutes.setSpecialValueText("none")  # 0: the run ends by its steps alone
        self.lr_g = QDoubleSpinBox(); self.lr_d = QDoubleSpinBox()
        for box in (self.lr_g, self.lr_d):
            box.setDecimals(6); box.setRange(1e-6, 1.0); box.setSingleStep(1e-5)
        self.n_critic = QSpinBox(); self.n_critic.setRange(1, 20)
        self.z_dim = QSpinBox(); self.z_dim.setRange(2, 2048)
        self.preset = QComboBox(); self.preset.addItems(["tiny", "small", "medium", "base"]); self.preset.setCurrentText("small")
        self.augment = QCheckBox("DiffAugment")
        self.score_every = QSpinBox(); self.score_every.setRange(0, 1_000_000); self.score_every.setSingleStep(100)
        self.score_every.setSpecialValueText("never"); self.score_every.setSuffix(" steps")
        self.holdout = QSpinBox(); self.holdout.setRange(0, 10_000_000); self.holdout.setSingleStep(100)
        self.holdout.setSpecialValueText("none"); self.holdout.setSuffix(" images")
        self.device = QComboBox(); self.device.addItems(["auto", "cpu", "cuda"])
        self.processes = QSpinBox(); self.processes.setRange(1, max(1, os.cpu_count() or 1))
        self.cuda_graphs = QCheckBox("CUDA graphs"); self.bf16 = QCheckBox("bf16")
        self.out = QLineEdit(default_run_folder())
        browse = QPushButton("…"); browse.clicked.connect(self._choose_out)
        for name in TIPS:
            getattr(self, name).setToolTip(TIPS[name])
        self.family.currentTextChanged.connect(self._family_defaults)
        self._family_defaults(self.family.currentText())
        self.device.currentTextChanged.connect(self._update_speed_options)
        self.processes.valueChanged.connect(self._update_speed_options)
        for box in (self.steps, self.batch, self.n_critic, self.holdout):
            box.valueChanged.connect(self._update_epochs)
        self.holdout.valueChanged.connect(state.set_holdout)  # Compare scores on the same images
        state.dataset_changed.connect(lambda *_: self._update_epochs())

        form = QFormLayout()
        form.addRow("Model family", self.family)
        form.addRow("Batch", self.batch)
        self.epochs = QLabel("")
        self.epochs.setToolTip("How many times the run goes through the open dataset: steps x batch (x n_critic, "
                               "the discriminator's steps) / images (those held out left aside)")
        form.addRow("Steps", row(self.steps, self.epochs, stretch=False))
        form.addRow("Time limit (min)", self.minutes)
        form.addRow("Generator lr", self.lr_g)
        form.addRow("Discriminator lr", self.lr_d)
        form.addRow("n_critic", self.n_critic)
        form.addRow("Latent size", self.z_dim)
        form.addRow("StyleGAN2 preset", self.preset)
        form.addRow("Augment", self.augment)
        form.addRow("Score (SWD) every", self.score_every)
        form.addRow("Hold out", self.holdout)
        form.addRow("Device", self.device)
        form.addRow("Processes", self.processes)
        form.addRow("GPU speed", row(self.cuda_graphs, self.bf16))
        form.addRow("Run folder", row(self.out, browse, stretch=False))

        self.start_button = QPushButton("Start"); self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause"); self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button = QPushButton("Stop"); self.stop_button.clicked.connect(self.stop)
        for button, name in ((self.start_button, "start"), (self.pause_button, "pause"), (self.stop_button, "stop")):
            set_icon(button, name)
        self.resume_button = QPushButton("Resume a run…")
        self.resume_button.setToolTip("Continue a stopped run from its latest checkpoint")
        self.resume_button.clicked.connect(self.choose_run_to_resume)

        self.status = QLabel("Open a dataset, choose a family, press Start.")
        self.status.setWordWrap(True)
        self.notes = QLabel("")  # what the engine told about this run (ev.Notice): kept below the status line
        self.notes.setWordWrap(True)
        self.notes.setVisible(False)
        self.run_notes: list[str] = []
        self.speed = QLabel("")
        self.score = QLabel("")  # the newest quality score, when the run scores
        self.step_scores: dict[int, float] = {}  # the run's SWD by step, shown beside its checkpoints
        self.score.setVisible(False)
        self.score_text = ""  # the newest score's line, shown again when a stop cuts a score short
        self.checkpoints = QListWidget()
        self.checkpoints.setToolTip("The run's checkpoints, newest first; when the run scores, each with its SWD, "
                                    "and the best-scoring one is kept as well as the newest. Double-click one "
                                    "(or press Enter) to open it in Generate")

        def open_item(item: QListWidgetItem) -> None:
            self.open_checkpoint.emit(item.data(Qt.ItemDataRole.UserRole))

        self.checkpoints.itemDoubleClicked.connect(open_item)
        on_enter(self.checkpoints, open_item)
        self.open_generate_button = QPushButton("Open in Generate")
        set_icon(self.open_generate_button, "generate")
        self.open_generate_button.setToolTip("Open the selected checkpoint (else the newest) in Generate, to explore "
                                             "its faces; it joins Compare's list too")
        self.open_generate_button.clicked.connect(self.open_selected_checkpoint)
        self.checkpoints.model().rowsInserted.connect(self._update_checkpoint_buttons)
        self.checkpoints.model().rowsRemoved.connect(self._update_checkpoint_buttons)
        self.checkpoints.model().modelReset.connect(self._update_checkpoint_buttons)

        settings = QGroupBox("Settings")
        settings.setLayout(form)
        left = QVBoxLayout()
        left.addWidget(settings)
        left.addLayout(row(self.start_button, self.pause_button, self.stop_button, self.resume_button, stretch=False))
        left.addWidget(self.status)
        left.addWidget(self.notes)
        left.addWidget(self.speed)
        left.addWidget(self.score)
        self.open_folder_button = QPushButton("Open run folder")
        set_icon(self.open_folder_button, "folder")
        self.open_folder_button.setToolTip("Show the run folder (checkpoints, sample grids, log) in the file manager")
        self.open_folder_button.clicked.connect(self.open_run_folder)
        checkpoints_row = row(QLabel("Checkpoints"), self.open_generate_button, self.open_folder_button, stretch=False)
        checkpoints_row.insertStretch(1, 1)
        left.addLayout(checkpoints_row)
        left.addWidget(self.checkpoints, 1)
        left_widget = QWidget(); left_widget.setLayout(left)

        self.samples = ImageView("Live samples from fixed seeds appear here")
        self.previews: dict[str, np.ndarray] = {}  # the newest snapshot's grids: "samples" first, then the family's
        self.preview = QComboBox()
        self.preview.setToolTip("What the preview shows: the faces from fixed seeds, or (StyleGAN2) the style-mixing "
                                "grid, where each row's coarse styles (pose, face shape) go onto each column's face")
        self.preview_kind = "samples"  # the kind the user chose; it stays chosen across snapshots and runs
        self.preview.activated.connect(lambda _: setattr(self, "preview_kind", self.preview.currentData()))
        self.preview.currentIndexChanged.connect(lambda _: self._show_preview())
        self.preview_step = QLabel("")
        self.timelapse_button = QPushButton("Timelapse…")
        set_icon(self.timelapse_button, "export")
        self.timelapse_button.setToolTip("Export the snapshots of the run in Run folder (this run, or an earlier one), "
                                         "oldest to newest, as a GIF, an MP4 or numbered PNGs, each captioned with "
                                         "its step: how the faces changed as it trained. It shows the kind of grid "
                                         "on screen")
        self.timelapse_button.clicked.connect(lambda: self.export_timelapse())
        self.timelapse: Call | None = None
        self._cancel_timelapse = threading.Event()
        preview_bar = row(self.preview, self.preview_step, stretch=True)
        preview_bar.addWidget(self.timelapse_button)
        samples_box = QWidget()
        samples_layout = QVBoxLayout(samples_box)
        samples_layout.setContentsMargins(0, 0, 0, 0)
        samples_layout.addLayout(preview_bar)
        samples_layout.addWidget(self.samples, 1)
        self.plot = LossPlot()
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(round(self.plot.smoothing * 100))
        self.smoothing.setMaximumWidth(200)
        self.smoothing.setToolTip("Loss curves: a moving average over the logged values (shown faint behind); "
                                  "0 shows them as they are")
        self.smoothing.valueChanged.connect(lambda v: self.plot.set_smoothing(v / 100))
        plot_box = QWidget()
        plot_layout = QVBoxLayout(plot_box)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        plot_layout.addWidget(self.plot, 1)
        smoothing_row = row(QLabel("Smoothing"), self.smoothing, stretch=False)
        smoothing_row.insertStretch(0, 1)  # at the right, under the plot
        plot_layout.addLayout(smoothing_row)
        right = split(samples_box, plot_box, sizes=[420, 220], vertical=True)
        layout = QVBoxLayout(self)
        layout.addWidget(split(left_widget, right, sizes=[340, 700]))
        self._set_running(False)
        self._update_speed_options()
        self._update_checkpoint_buttons()
        self._update_epochs()
        self._set_previews(None, {})

    def _set_previews(self, step: int | None, grids: dict[str, np.ndarray]) -> None:
        """Show a snapshot: {"samples": grid, "style-mixing": grid, ...}; the chosen kind stays chosen."""
        self.previews = grids
        kinds = list(grids)
        if kinds != [self.preview.itemData(i) for i in range(self.preview.count())]:
            self.preview.blockSignals(True)
            self.preview.clear()
            for kind in kinds:
                self.preview.addItem(kind.replace("-", " ").capitalize(), kind)
            self.preview.setCurrentIndex(max(0, self.preview.findData(self.preview_kind)))
            self.preview.blockSignals(False)
        self.preview.setVisible(len(kinds) > 1)
        self.preview_step.setText(f"Snapshot at step {step:,}" if step is not None else "")
        self._show_preview()

    def _show_preview(self) -> None:
        grid = self.previews.get(self.preview.currentData())
        if grid is None:
            self.samples.clear_image()
        else:
            self.samples.set_image(grid)

    def _update_epochs(self, *_) -> None:
        images = self.state.dataset
        if images is None or not len(images.images):
            self.epochs.setText("")
            return
        training = len(images.images) - self.holdout.value()  # the held-out images never train
        if training < 1:
            self.epochs.setText("(Hold out leaves no image to train on)")
            return
        epochs = self.steps.value() * self.batch.value() * self.n_critic.value() / training
        self.epochs.setText(f"= {epochs:,.1f} epochs" if epochs >= 0.95 else f"= {epochs:.2g} of an epoch")

    def _update_checkpoint_buttons(self, *_) -> None:
        self.open_generate_button.setEnabled(self.checkpoints.count() > 0)

    def open_selected_checkpoint(self) -> None:
        item = self.checkpoints.currentItem() or self.checkpoints.item(0)  # the newest is at the top
        if item is not None:
            self.open_checkpoint.emit(item.data(Qt.ItemDataRole.UserRole))

    # -- timelapse -----------------------------------------------------------------------------------------
    def export_timelapse(self, path: str | None = None) -> None:
        """The snapshots of the run in Run folder (the one on screen: a run's folder is put there when it starts)
        as an animation, written in the background; pressed again, it cancels."""
        if self.timelapse is not None:
            self._cancel_timelapse.set()
            return
        run_dir = self.out.text().strip()
        kind = self.preview.currentData() or "samples"
        if not run_dir:
            self.status.setText("No timelapse: choose the run's folder in Run folder first.")
            return
        try:  # before the file dialog: a run with nothing to show says so at once
            timelapse_snapshots(run_dir, kind)
        except TimelapseError as exc:
            self.status.setText(f"No timelapse: {exc}.")
            return
        if path is None:
            try:
                family = json.loads(Path(run_dir, "config.json").read_text())["model"]
            except (OSError, ValueError, KeyError, TypeError):
                family = self.family.currentText()
            what = "" if kind == "samples" else f"-{kind}"
            path = ask_save_path(self, self.state, "Export timelapse",
                                 f"{family}-{Path(run_dir).name}{what}-timelapse.gif",
                                 "GIF (*.gif);;MP4 (*.mp4);;PNG frames (folder name, no suffix) (*)")
            if not path:
                return
        self._cancel_timelapse.clear()
        job = self.timelapse = Call(lambda: write_timelapse(run_dir, path, kind, progress=job.progress.emit,
                                                            cancel=self._cancel_timelapse.is_set),
                                    expected=(TimelapseError, TimelapseCancelled, OSError, ValueError), parent=self)
        job.progress.connect(lambda done, total: self.status.setText(
            f"Timelapse: {done:,} of {total:,} snapshots read …" if done < total
            else f"Timelapse: writing {Path(path).name} …"))
        self.timelapse.finished.connect(lambda result: self._timelapse_done(path, result))
        self.timelapse.failed.connect(lambda message: self._timelapse_done(path, message))
        self.timelapse_button.setText("Cancel timelapse")
        self.status.setText(f"Writing the timelapse of {run_dir} to {path} …")
        self.timelapse.start()

    def _timelapse_done(self, path: str, result) -> None:
        self.timelapse = None
        self.timelapse_button.setText("Timelapse…")
        if isinstance(result, str):
            self.status.setText("Timelapse cancelled; nothing was written." if self._cancel_timelapse.is_set()
                                else f"Timelapse not written: {result}")
            return
        written, steps, unreadable = result
        where = path if len(written) == 1 else f"{len(written)} PNG frames in {path}"
        skipped = f" ({len(unreadable)} unreadable snapshot{'s' * (len(unreadable) > 1)} left out)" if unreadable else ""
        self.status.setText(f"Wrote {where}: {len(steps)} snapshots, steps {steps[0]:,} to {steps[-1]:,}{skipped}.")

    def open_run_folder(self) -> None:
        folder = self.out.text().strip()
        if not os.path.isdir(folder):
            self.status.setText(f"{folder or 'The run folder'} does not exist yet: it is made when a run starts.")
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.abspath(folder)))

    # -- settings ------------------------------------------------------------------------------------------
    FORM = ("family", "batch", "steps", "minutes", "lr_g", "lr_d", "n_critic", "z_dim", "preset", "augment",
            "score_every", "holdout", "device", "processes", "out", "cuda_graphs", "bf16",
            "smoothing")  # the family first: it sets defaults

    def save_form(self, settings) -> None:
        """Remember the form (QSettings) so that the next session of the studio starts where this one was."""
        save_fields(settings, "train", self, self.FORM)

    def restore_form(self, settings) -> None:
        restore_fields(settings, "train", self, self.FORM)

    def set_gpu_count(self, gpus: int) -> None:
        self.gpus = gpus
        self._update_speed_options()

    def _update_speed_options(self) -> None:
        """The GPU speed options apply only to a run on a CUDA GPU (CUDA graphs: in one process); otherwise they
        are greyed out and say why, and a run started then does not use them."""
        if self.device.currentText() == "cpu":
            why = "the device is set to cpu"
        elif self.gpus == 0:
            why = "no CUDA GPU was found on this machine"
        else:
            why = ""
        graphs_why = why or ("CUDA graphs run in a single process" if self.processes.value() > 1 else "")
        self.speed_options_apply = {"cuda_graphs": not graphs_why, "bf16": not why}
        for box, tip, reason in ((self.cuda_graphs, TIPS["cuda_graphs"], graphs_why), (self.bf16, TIPS["bf16"], why)):
            box.setEnabled(not reason)
            box.setToolTip(f"{tip}. Unavailable: {reason}." if reason else tip)

    def _family_defaults(self, family: str) -> None:
        d = FAMILY_DEFAULTS[family]
        self.lr_g.setValue(d["lr_g"]); self.lr_d.setValue(d["lr_d"])
        self.n_critic.setValue(d.get("n_critic", 1)); self.z_dim.setValue(d["z_dim"])
        self.batch.setValue(32 if family == "stylegan2" else 64)
        self.preset.setEnabled(family == "stylegan2")
        self.augment.setEnabled(family == "stylegan2")

    def _choose_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Run folder", self.out.text())
        if folder:
            self.out.setText(folder)

    def config(self) -> TrainConfig:
        images = self.state.dataset
        if images is None:
            raise ConfigError("open a dataset first (the Dataset tab)")
        if self.holdout.value() >= len(images):
            raise ConfigError(f"Hold out {self.holdout.value():,} leaves no image to train on: the dataset has "
                              f"{len(images):,}")
        if self.holdout.value() == 1 and self.score_every.value():
            raise ConfigError("scores need at least 2 held-out images (Hold out)")
        values = dict(
            data=images.report.folder, out=self.out.text(), resolution=images.resolution,
            batch=self.batch.value(), steps=self.steps.value(), minutes=self.minutes.value() or None,
            lr_g=self.lr_g.value(), lr_d=self.lr_d.value(), n_critic=self.n_critic.value(), z_dim=self.z_dim.value(),
            preset=self.preset.currentText(), device=self.device.currentText(),
            diffaugment=DIFFAUGMENT if self.augment.isChecked() and self.family.currentText() == "stylegan2" else "",
            cuda_graphs=self.cuda_graphs.isChecked() and self.speed_options_apply["cuda_graphs"],
            precision="bf16" if self.bf16.isChecked() and self.speed_options_apply["bf16"] else "fp32",
            sample_every=max(10, min(200, self.steps.value() // 20)), log_every=5,
            score_every=self.score_every.value(), score_n=SCORE_IMAGES, holdout=self.holdout.value())
        values.update(self.extra_settings)  # settings the form does not show win over what it does
        return TrainConfig.for_family(self.family.currentText(), **values)

    # -- running -------------------------------------------------------------------------------------------
    def start(self) -> None:
        try:
            config = self.config()
        except ConfigError as exc:
            self.status.setText(f"Cannot start: {exc}")
            return
        if list_checkpoints(config.out):
            fresh = next_run_folder(config.out)
            answer = self.ask_folder_in_use(config.out, fresh)
            if answer == "continue":
                self.resume_run(config.out)
                return
            if answer != "new":
                return
            self.out.setText(fresh)
            config = config.with_(out=fresh)
        self._launch(config, self.state.dataset, resume=False)

    def ask_folder_in_use(self, folder: str, fresh: str) -> str:
        """-> "continue" (resume the run there), "new" (start in `fresh`) or "cancel"."""
        box = QMessageBox(QMessageBox.Icon.Question, "Run folder in use",
                          f"{folder} already holds a run. Continue that run, or start this one in a new folder?",
                          parent=self)
        go_on = box.addButton("Continue it", QMessageBox.ButtonRole.AcceptRole)
        new = box.addButton(f"New run in {os.path.basename(fresh)}", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(new)
        box.exec()
        return {go_on: "continue", new: "new"}.get(box.clickedButton(), "cancel")

    def ask_resume_on(self, missing: str, folder: str) -> bool:
        """Whether to continue a run whose images are gone from `missing` on the open dataset, `folder`."""
        box = QMessageBox(QMessageBox.Icon.Question, "The run's images moved",
                          f"This run trained on the images in {missing}, which is not there any more. Continue it "
                          f"on the open dataset, {folder}?", parent=self)
        go_on = box.addButton("Continue on the open dataset", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is go_on

    def choose_run_to_resume(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Resume which run?", self.out.text())
        if folder:
            self.resume_run(folder)

    def resume_run(self, run_dir: str) -> None:
        """Continue the run in run_dir. Its checkpoint is read in the background (torch work, and a large one
        takes a while); the run starts when it has been read."""
        if self.is_training():
            return
        device, steps, minutes = self.device.currentText(), self.steps.value(), self.minutes.value() or None
        score_every = self.score_every.value()

        def read() -> TrainConfig:
            config = resume_config(run_dir, device=device, score_every=score_every, score_n=SCORE_IMAGES)
            return config.with_(steps=max(steps, config.steps or 0), minutes=minutes)

        self.status.setText(f"Reading the run in {run_dir} …")
        self.start_button.setEnabled(False)
        self.resume_button.setEnabled(False)
        self.resume_dir = run_dir
        self.reading = Call(read, expected=(CheckpointError, ConfigError), parent=self)
        self.reading.finished.connect(self._resume_with)
        self.reading.failed.connect(self._resume_failed)
        self.reading.start()

    def _resume_failed(self, message: str) -> None:
        self.reading = None
        self.status.setText(f"Cannot resume: {message}")
        self._set_running(False)

    def _resume_with(self, config: TrainConfig) -> None:
        self.reading = None
        if self.closing:
            return
        run_dir = self.resume_dir
        images = self.state.dataset
        usable = images is not None and images.report.folder == config.data and images.resolution == config.resolution
        if not usable and not os.path.exists(config.data):  # the images were moved or renamed since
            if (images is None or images.resolution != config.resolution
                    or not self.ask_resume_on(config.data, images.report.folder)):
                self.status.setText(f"Cannot resume: the run's images were in {config.data}, which is not there any "
                                    f"more. Open them in Dataset at {config.resolution}px, wherever they are now, "
                                    "and resume again.")
                self._set_running(False)
                return
            config, usable = config.with_(data=images.report.folder), True
        self.out.setText(run_dir)
        self._launch(config, images if usable else None, resume=True)

    def _launch(self, config: TrainConfig, images, resume: bool) -> None:
        self.plot.clear_curves()
        self.score.setVisible(False)
        self.score_text = ""
        self.step_scores = {}
        self.checkpoints.clear()
        self.samples.placeholder = f"Samples from fixed seeds appear here every {config.sample_every:,} steps"
        self._set_previews(None, {})  # no grid of an earlier run while this one starts
        if resume:
            self._show_history(config)
            self.holdout.setValue(config.holdout)  # the run's own (it cannot change), which Compare then scores on
        if self.processes.value() > 1:
            self.run = ProcessRun(config, self.processes.value(), resume=resume, parent=self)
        else:
            self.run = TrainingRun(config, images, resume=resume, parent=self)
        self.run.event.connect(self._on_event)
        self.run.ended.connect(self._on_ended)
        self.started_at = time.monotonic()
        self.status.setText(f"Starting {config.model} in {config.out} …")
        self._set_notes([])
        self._set_running(True)
        self.pause_button.setEnabled(isinstance(self.run, TrainingRun))
        self.run.start()

    def toggle_pause(self) -> None:
        if self.run is None:
            return
        if self.run.control.pause_requested:
            self.run.resume_training()
            self._show_pause_button(paused=False)
        else:
            self.run.pause()
            self._show_pause_button(paused=True)

    def _show_pause_button(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        set_icon(self.pause_button, "start" if paused else "pause")

    def stop(self) -> None:
        if self.run is not None and self.run.is_running():
            self.status.setText("Stopping after this step and saving a checkpoint …")
            self.run.stop()

    def is_training(self) -> bool:
        """A run is going, or about to start (its checkpoint is being read)."""
        return self.reading is not None or (self.run is not None and self.run.is_running())

    def stop_and_wait(self, timeout: float = 120.0) -> bool:
        """Stop the run, let it write its checkpoint, and wait for its thread (used when the window closes)."""
        self.closing = True  # a run whose checkpoint is still being read does not start
        self._cancel_timelapse.set()  # a timelapse being made stops at its next frame, leaving nothing behind
        if self.reading is not None:
            self.reading.wait(timeout)
            self.reading = None
        ended = True
        if self.run is not None:
            self.run.stop()
            ended = self.run.wait(timeout)
        if self.timelapse is not None:
            self.timelapse.wait(timeout)
        return ended

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.resume_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self._show_pause_button(paused=False)

    def _show_history(self, config: TrainConfig) -> None:
        """A resumed run carries on from where it was: its loss curves and scores up to the checkpoint it resumes
        from (the engine drops what came after), its last sample grid and its checkpoints."""
        run_dir = config.out
        latest = latest_checkpoint(run_dir)
        if latest is None:
            return
        step = checkpoint_step(latest)
        rows = read_log(run_dir, up_to_step=step)
        self.plot.add_rows(rows)
        scores = [r for r in rows if SCORE in r]
        self.step_scores.update({r["step"]: r[SCORE] for r in scores})
        if scores:
            self._show_score(scores[-1]["step"], scores[-1][SCORE], scores[-1].get("score_n", config.score_n),
                             scored_against(config))
        self._list_checkpoints(run_dir)
        # step-000001500.png: the newest grid drawn at or before the checkpoint, with its family grids
        # (style-mixing-step-000001500.png)
        grids = [path for at, path in snapshots(run_dir) if at <= step]
        if not grids:
            return
        newest = grids[-1]
        kinds = {"samples": newest}
        for path in sorted(newest.parent.glob(f"*-{newest.name}")):  # style-mixing-step-….png -> "style-mixing"
            kinds[path.name.removesuffix(f"-{newest.name}")] = path
        shown = {}
        for kind, path in kinds.items():
            try:
                with Image.open(path) as image:
                    shown[kind] = np.asarray(image.convert("RGB"))
            except OSError:
                pass  # a sample grid is only a preview; a damaged one must not stop the run from resuming
        if "samples" in shown:
            self._set_previews(int(newest.stem[5:]), shown)

    def _list_checkpoints(self, run_dir) -> None:
        """The run's checkpoints on disk, newest first: the engine keeps only the newest few, so the list
        follows the folder rather than the events (an older entry would point at a deleted file)."""
        selected = self.checkpoints.currentItem()
        selected = selected.data(Qt.ItemDataRole.UserRole) if selected is not None else None
        self.checkpoints.clear()
        paths = list_checkpoints(run_dir)
        scored = {step: self.step_scores[step] for step in map(checkpoint_step, paths) if step in self.step_scores}
        best = min(scored, key=scored.get) if len(scored) > 1 else None  # the engine keeps it past the newest
        for path in reversed(paths):
            step = checkpoint_step(path)
            score = scored.get(step)
            item = QListWidgetItem(f"step {step:,}" + (f" · SWD {score:.1f}" if score is not None else "")
                                   + (" · best" if step == best else ""))
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(f"{path}\nDouble-click to open it in Generate")
            self.checkpoints.addItem(item)
            if str(path) == selected:
                self.checkpoints.setCurrentItem(item)

    def _on_event(self, event) -> None:
        if isinstance(event, ev.Started):
            size = f" at {self.run.config.resolution}x{self.run.config.resolution}" if self.run is not None else ""
            images = f"{event.num_images:,} image{'s' * (event.num_images != 1)}"
            self.status.setText(f"Training {event.family} on {images}{size} ({event.device})"
                                + (f", resumed at step {event.step:,}" if event.step else ""))
        elif isinstance(event, ev.Progress):
            self.plot.add_point(event.step, event.stats)
            left = f", {format_duration(event.eta_s)} left" if event.eta_s is not None else ""
            self.speed.setText(f"step {event.step:,} · {event.images_seen:,} images seen · "
                               f"{event.img_per_s:,.0f} img/s{left}")
            self.activity.emit(f"training, step {event.step:,}{left}")
        elif isinstance(event, ev.Samples):
            self._set_previews(event.step, {"samples": event.grid, **event.extras})
        elif isinstance(event, ev.Scoring):
            self.score.setText(f"Scoring the faces of step {event.step:,} ({event.n:,} of them) …")
            self.score.setVisible(True)
        elif isinstance(event, ev.Scored):
            self.plot.add_rows([{"step": event.step, SCORE: event.scores["SWD"]}])
            self.step_scores[event.step] = event.scores["SWD"]
            self._show_score(event.step, event.scores["SWD"], event.n, event.reference)
        elif isinstance(event, ev.Checkpointed):
            self._list_checkpoints(Path(event.path).parent.parent)  # RUN/checkpoints/step-N.pt
        elif isinstance(event, ev.Paused):
            self.status.setText(f"Paused at step {event.step:,}")
            self._show_pause_button(paused=True)  # also when the engine paused itself (a checkpoint it could not write)
            self.activity.emit(f"training paused at step {event.step:,}")
        elif isinstance(event, ev.Resumed):
            self.status.setText(f"Training again from step {event.step:,}")
            self._show_pause_button(paused=False)
        elif isinstance(event, ev.Notice):
            self._set_notes(self.run_notes + [event.message])
        elif isinstance(event, ev.Failed):
            self.status.setText(f"<b>Training failed:</b> {event.message}")
            QApplication.alert(self.window())  # the task bar says so when the user is in another program
        elif isinstance(event, ev.Finished):
            if self.score.text().startswith("Scoring"):  # the stop came while a score was being taken
                self.score.setText(self.score_text)
                self.score.setVisible(bool(self.score_text))
            how = "Stopped" if event.stopped else "Finished"
            best = ""
            if event.best_checkpoint and event.best_checkpoint != event.checkpoint:
                best = (f" Its best-scoring checkpoint is step {checkpoint_step(event.best_checkpoint):,} "
                        f"(SWD {event.best_swd:.1f}).")
            self.status.setText(f"{how} at step {event.step:,} ({event.images_seen:,} images, "
                                f"{format_duration(event.elapsed_s)}); checkpoint saved.{best}")
            if not event.stopped:  # a run the user did not stop themselves ended: tell them, if they are elsewhere
                QApplication.alert(self.window())
            if event.checkpoint:
                self.trained.emit(event.checkpoint)

    def _show_score(self, step: int, swd: float, n: int, reference: str) -> None:
        self.score_text = (f"SWD {swd:.1f} at step {step:,}, {n:,} faces against {reference} images "
                           "(lower is better)")
        self.score.setText(self.score_text)
        self.score.setVisible(True)

    def _set_notes(self, notes: list[str]) -> None:
        """The engine's notes on the run, each on a line of its own under the status line, which goes on saying
        what the run is doing (before, a note replaced it, and a pause replaced the note that said why)."""
        self.run_notes = notes
        self.notes.setText("\n".join(f"Note: {note}" for note in notes[-NOTES_SHOWN:]))
        self.notes.setVisible(bool(notes))

    def add_status(self, text: str) -> None:
        """Say more after the status line (the window says what it did with a finished run)."""
        self.status.setText(f"{self.status.text()} {text}")

    def _on_ended(self) -> None:
        self._set_running(False)
        self.activity.emit("")

