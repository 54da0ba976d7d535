"""Application start-up: QApplication, the main window, the demo when nothing else is open."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from studio.main_window import MainWindow


def main(argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    app.setApplicationName("GAN Studio")
    app.setOrganizationName("GAN Studio")
    window = MainWindow()
    window.show()
    return app.exec()
