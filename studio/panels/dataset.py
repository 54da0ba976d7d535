"""Dataset panel: open or drop a folder, read it in the background (progress, cancel), see a sample and the report."""

from __future__ import annotations

import csv
import os
import shlex
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHeaderView, QLabel, QProgressBar, QPushButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from studio.convert import to_pixmap
from studio.dialogs import ask_save_path
from studio.icons import set_icon
from studio.state import StudioState
from studio.widgets.faces import FaceGrid, show_enlarged
from studio.widgets.layout import on_enter, row, split
from studio.workers import Call, FolderScan
from trainers.config import RESOLUTIONS
from trainers.data import ARCHIVE_PATTERNS, ImageSet, is_archive
from trainers.explore import COPY_DISTANCE, duplicate_pairs
from trainers.images import replace_when_written

SAMPLE = 64  # thumbnails shown
LISTED_PAIRS = 2000  # duplicate pairs listed in the report, closest first


class ResolutionBox(QComboBox):
    """The training resolutions some family supports (powers of two), so a folder is never read at a size no
    family can train on."""

    def __init__(self, value: int = 64, parent=None):
        super().__init__(parent)
        for r in sorted({r for rs in RESOLUTIONS.values() for r in rs}):
            self.addItem(f"{r} x {r}", r)
        self.setValue(value)

    def value(self) -> int:
        return int(self.currentData())

    def setValue(self, value: int) -> None:
        index = self.findData(value)
        if index < 0:
            raise ValueError(f"no family trains at {value}x{value}")
        self.setCurrentIndex(index)


class DatasetPanel(QWidget):
    folder_loaded = Signal(str)  # the folder's path, once read

    def __init__(self, state: StudioState, parent=None):
        super().__init__(parent)
        self.state = state
        self.scan: FolderScan | None = None
        self.folder = ""
        self.duplicates_job: Call | None = None
        self._stop_duplicates = threading.Event()
        self.duplicates: list[tuple[str, str, float, bool]] | None = None  # (file, its later copy, distance, mirrored)
        self._duplicate_items: list[QTreeWidgetItem] = []  # their rows in the report
        self._pair_dialog = None  # the last pair opened from the report, side by side
        self._report_job: Call | None = None  # the report being saved as CSV
        self._loaded_summary = ""  # what the summary said when the open folder had been read

        self.open_button = QPushButton("Open folder…")
        self.open_button.setToolTip("Choose a folder of images (searched recursively); you can also drop one here")
        self.open_button.clicked.connect(self.choose_folder)
        set_icon(self.open_button, "folder")
        self.zip_button = QPushButton("Open archive…")
        self.zip_button.setToolTip("Choose a .zip or a .tar (.tar.gz, .tar.bz2, .tar.xz too) of images: read where "
                                   "it is, never unpacked to disk; you can also drop one here")
        self.zip_button.clicked.connect(self.choose_archive)
        set_icon(self.zip_button, "archive")
        self.demo_button = QPushButton("Use demo faces")
        self.demo_button.setToolTip("The studio's built-in procedural cartoon faces")
        self.resolution = ResolutionBox(64)
        self.resolution.setToolTip("Images are centre-cropped and resized to this size for training (256 is for "
                                   "StyleGAN2 only)")
        # A new size reads the open folder again (quick once a size has been read: the cache keeps each size).
        self.resolution.currentIndexChanged.connect(lambda _: self.folder and self.load(self.folder))
        self.duplicates_button = QPushButton("Find duplicates")
        self.duplicates_button.setToolTip(
            "Look for images that are copies of one another (re-encoded, resized, recoloured, cropped a little "
            "differently, or mirrored, which training's flips make the same face): a GAN sees "
            "such a face more often than the others, and a held-out copy of a training image is not unseen. They "
            "are listed in the report below; nothing is deleted")
        self.duplicates_button.clicked.connect(self.find_duplicates)
        self.duplicates_button.setEnabled(False)  # until a dataset is open
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.summary = QLabel("No folder open yet.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.grid = FaceGrid(72, placeholder="Drop a folder of images (or a .zip or .tar of them) here: faces, or "
                                              "any pictures you want more of.\n"
                                              "Subfolders are read too; files that are not usable images are "
                                              "listed with the reason.")
        self.report = QTreeWidget()
        self.report.setHeaderLabels(["File", "What happened"])  # skipped files, and upscaled ones (kept)
        self.report.setRootIsDecorated(False)
        header = self.report.header()  # the paths get the room; the reasons are short
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.report.setColumnWidth(1, 240)
        self.report.setVisible(False)  # until a folder has files to report
        self.report.setToolTip("Files skipped or upscaled, and the copies Find duplicates found; right-click to "
                               "save it all as CSV")
        self.report.itemDoubleClicked.connect(self.show_pair)
        on_enter(self.report, self.show_pair)
        self.report.setIconSize(QSize(32, 32))  # a duplicate's row shows both images
        save_report = QAction("Save the report as CSV…", self.report)  # every row, every copy too
        save_report.triggered.connect(lambda: self.save_report())
        self.report.addAction(save_report)
        self.report.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

        layout = QVBoxLayout(self)
        layout.addLayout(row(self.open_button, self.zip_button, self.demo_button, QLabel("Resolution"), self.resolution,
                             self.duplicates_button, self.progress, self.cancel_button))
        layout.addWidget(self.summary)
        layout.addWidget(split(self.grid, self.report, sizes=[400, 150], vertical=True), 1)

    def _start_folder(self) -> str:
        """Where the open dialogs start: the open folder, or the folder that holds the open zip."""
        return os.path.dirname(self.folder) if is_archive(self.folder) else (self.folder or os.getcwd())

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", self._start_folder())
        if folder:
            self.load(folder)

    def choose_archive(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an archive of images", self._start_folder(),
                                              f"Archives of images ({ARCHIVE_PATTERNS})")
        if path:
            self.load(path)

    def load(self, folder: str) -> None:
        """Read `folder` in the background; a scan already running is cancelled first."""
        self.cancel(wait=True)
        self.duplicates_job = None  # what it found (or that it stopped) belongs to the folder open before
        self.duplicates_button.setEnabled(False)
        self.folder = folder
        self.summary.setText(f"Reading {folder} …")
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.scan = FolderScan(folder, self.resolution.value(), self)
        self.scan.progress.connect(self._on_progress)
        self.scan.finished.connect(self._on_loaded)
        self.scan.failed.connect(self._on_failed)
        self.scan.cancelled.connect(lambda: self._done(f"Reading {folder} was cancelled."))
        self.scan.start()

    def cancel(self, wait: bool = False) -> None:
        """Stop reading a folder, or looking for duplicates."""
        self._stop_duplicates.set()
        if self.scan is not None and self.scan.is_running():
            self.scan.cancel()
            if wait:
                self.scan.wait(30)
        if wait and self.duplicates_job is not None:
            self.duplicates_job.wait(30)

    def busy(self) -> bool:
        return any(job is not None and job.is_running() for job in (self.scan, self.duplicates_job))

    def find_duplicates(self) -> None:
        """Compare every image of the open dataset with every other, plain and mirrored, in the background (about
        6 s for 20,000 faces on a 2-core CPU); copies are listed in the report, the closest LISTED_PAIRS."""
        images = self.state.dataset
        if images is None or self.busy():
            return
        self._stop_duplicates = stop = threading.Event()
        self.duplicates = None
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.duplicates_button.setEnabled(False)
        for item in self._duplicate_items:  # an earlier search's findings make way for this one's
            self.report.takeTopLevelItem(self.report.indexOfTopLevelItem(item))
        self._duplicate_items = []
        self.summary.setText(f"{self._loaded_summary} Looking for duplicates among {len(images):,} images …")
        job = Call(lambda: duplicate_pairs(images.images, cancel=stop.is_set,
                                           progress=lambda done, total: job.progress.emit(done, total)),
                   expected=(InterruptedError,), parent=self)
        # Each report is dropped once another folder is being read (load() lets go of the job).
        job.progress.connect(lambda done, total: self.duplicates_job is job and self._on_progress(done, total))
        job.finished.connect(lambda pairs: self.duplicates_job is job and self._on_duplicates(images, pairs))
        job.failed.connect(lambda message: self.duplicates_job is job and self._after_duplicates(
            "Looking for duplicates was cancelled." if stop.is_set() else f"Looking for duplicates failed: {message}"))
        self.duplicates_job = job
        job.start()

    def _after_duplicates(self, text: str) -> None:
        self._done(f"{self._loaded_summary} {text}")
        self.report.setVisible(self.report.topLevelItemCount() > 0)
        self.duplicates_button.setEnabled(self.state.dataset is not None)

    def _on_duplicates(self, images: ImageSet, pairs: list[tuple[int, int, float, bool]]) -> None:
        self.duplicates = [(images.paths[i], images.paths[j], d, m) for i, j, d, m in pairs]
        copies = len({j for _, j, _, _ in pairs})
        self._duplicate_items = []
        for (i, j, _, _), (first, copy, d, m) in zip(pairs[:LISTED_PAIRS], self.duplicates):
            item = QTreeWidgetItem(self.report, [copy, f"a {'mirror image' if m else 'copy'} of {first} ({d:.3f} "
                                                       "apart)"])
            item.setData(0, Qt.ItemDataRole.UserRole, (images, i, j))
            item.setIcon(0, QIcon(to_pixmap(images.images[j])))  # the copy, then the image it copies
            item.setIcon(1, QIcon(to_pixmap(images.images[i])))
            item.setToolTip(0, "Double-click to see the two images side by side")
            self._duplicate_items.append(item)
        if len(pairs) > LISTED_PAIRS:  # a folder of video frames can hold millions: rows enough to look through
            more = len(pairs) - LISTED_PAIRS
            self._duplicate_items.append(QTreeWidgetItem(self.report, [
                f"… and {more:,} more pair{'s' * (more != 1)}", "farther apart; right-click > Save the report as "
                f"CSV… writes them all, as does `python -m trainers duplicates {shlex.quote(images.report.folder)}`"]))
        if pairs:  # room for the image and the words, measured once
            self.report.setColumnWidth(1, max(240, self.report.sizeHintForColumn(1)))
        self._after_duplicates(
            f"<b>{copies:,} image{'s are copies' if copies != 1 else ' is a copy'} of another</b>, listed below "
            f"(under {COPY_DISTANCE} apart); nothing was removed." if copies else
            f"No image is a copy of another (none under {COPY_DISTANCE} apart).")

    def save_report(self, path: str | None = None) -> None:
        """The report as CSV (file, what happened, of which file, how far apart, mirrored): every skipped and
        upscaled file and every pair of copies, also those past the LISTED_PAIRS shown. Written in the background."""
        images = self.state.dataset
        if images is None:
            return
        name = os.path.splitext(os.path.basename(images.report.folder.rstrip("/")))[0] or "dataset"
        path = path or ask_save_path(self, self.state, "Save the report", f"{name}-report.csv", "CSV (*.csv)")
        if not path:
            return
        rows = [(p, f"skipped: {reason}", "", "", "") for reason, paths in sorted(images.report.rejected.items())
                for p in paths]
        rows += [(p, "upscaled (kept)", "", "", "") for p in images.report.upscaled]
        rows += [(copy, "a copy", first, f"{d:.4f}", "yes" if m else "no") for first, copy, d, m in
                 self.duplicates or ()]
        target = Path(path)
        tmp = target.with_name(f".{target.name}.tmp")

        def write() -> str:
            def lines() -> None:
                with open(tmp, "w", newline="", encoding="utf-8") as f:
                    out = csv.writer(f)
                    out.writerow(["file", "what", "of", "distance", "mirrored"])
                    out.writerows(rows)

            replace_when_written(tmp, target, lines)
            return f"Saved the report ({len(rows):,} rows) to {target}."

        job = Call(write, expected=(OSError,), parent=self)
        job.finished.connect(lambda text: self.summary.setText(f"{self.summary.text()} {text}"))
        job.failed.connect(lambda message: self.summary.setText(f"{self.summary.text()} The report was not saved: "
                                                                f"{message}"))
        self._report_job = job  # kept alive while it writes
        job.start()

    def show_pair(self, item: QTreeWidgetItem) -> None:
        """A duplicate's row, double-clicked: the image and its copy side by side, as read for training."""
        pair = item.data(0, Qt.ItemDataRole.UserRole)
        if pair is None:  # a skipped or upscaled file's row
            return
        images, i, j = pair
        first, copy = images.images[i], images.images[j]
        gap = np.full((3, first.shape[1], max(2, first.shape[2] // 16)), 255, np.uint8)
        dialog = show_enlarged(self, np.concatenate([first, gap, copy], axis=2),
                               f"{images.paths[i]} and {images.paths[j]}")
        size = first.shape[2]
        dialog.view.describe = lambda x, y: (images.paths[i] if x < size else
                                             images.paths[j] if x >= size + gap.shape[2] else "")
        dialog.resize(760, 430)
        self._pair_dialog = dialog  # kept alive while it is open

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _done(self, text: str) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.summary.setText(text)
        self.duplicates_button.setEnabled(self.state.dataset is not None)  # the open one, also after a failed read

    def _on_failed(self, message: str) -> None:
        self._done(f"Cannot use this folder: {message}")

    def _on_loaded(self, images: ImageSet) -> None:
        report = images.report
        sizes = ", ".join(f"{k} ({v:,})" for k, v in list(report.source_sizes.items())[:4])
        text = (f"<b>{len(images):,} image{'s' * (len(images) != 1)}</b> at {images.resolution}x{images.resolution} from {report.folder}"
                f"{' (from cache)' if report.from_cache else ''}. Source sizes: {sizes or '—'}.")
        if report.upscaled:
            text += f" {len(report.upscaled):,} smaller than {images.resolution}px were upscaled."
        if report.rejected:
            n = report.num_rejected
            text += f" <b>{n:,} file{'s' if n != 1 else ''} skipped</b>: " + ", ".join(
                f"{len(v):,} {k}" for k, v in report.rejected.items()) + "."
        self._done(text)
        self._loaded_summary = text
        self._duplicate_items = []
        self.report.clear()
        if self._pair_dialog is not None:  # it shows the folder open before
            self._pair_dialog.close()
            self._pair_dialog = None
        for reason, paths in sorted(report.rejected.items()):
            for path in paths:
                QTreeWidgetItem(self.report, [path, f"skipped: {reason}"])
        for path in report.upscaled:
            QTreeWidgetItem(self.report, [path, "upscaled (kept)"])
        self.report.setVisible(bool(report.rejected or report.upscaled))
        rng = np.random.default_rng(0)
        pick = np.sort(rng.choice(len(images), size=min(SAMPLE, len(images)), replace=False))
        # captions without the extension, so that a short caption keeps the name's end (its number); the tooltip
        # has the whole path
        self.grid.set_faces(images.images[pick], [os.path.splitext(os.path.basename(images.paths[i]))[0] for i in pick],
                            [images.paths[i] for i in pick])
        self.duplicates = None
        self.duplicates_button.setEnabled(True)
        self.state.set_dataset(images, os.path.basename(report.folder.rstrip("/")) or report.folder)
        self.folder_loaded.emit(report.folder)
