"""The main window: for now the built-in demo faces; the panels arrive with the studio issue."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QScrollArea

from studio.convert import to_pixmap
from trainers.demo_faces import demo_faces
from trainers.images import make_grid


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("GAN Studio")
        self.resize(900, 700)
        grid = make_grid(demo_faces(48, 64), columns=8, padding=4, fill=255)
        label = QLabel()
        label.setPixmap(to_pixmap(grid))
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidget(label)
        scroll.setWidgetResizable(True)
        self.setCentralWidget(scroll)
        self.statusBar().showMessage("Built-in demo: 48 procedural faces")
