"""Application start-up: QApplication, the theme's style sheet, the main window, the demo when nothing else is open."""

from __future__ import annotations

import os
import sys
from importlib import resources

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication, QSplashScreen

THEMES = {
    "light": {"accent": "#d94f30", "panel": "#fbfaf8", "text": "#1d1d1f", "muted": "#c9c6c0"},
    "dark": {"accent": "#ff7a59", "panel": "#232326", "text": "#f0f0f2", "muted": "#4a4a50"},
}


def is_dark(app: QGuiApplication) -> bool:
    hints = app.styleHints()
    if hasattr(hints, "colorScheme"):
        scheme = hints.colorScheme()
        if scheme != Qt.ColorScheme.Unknown:
            return scheme == Qt.ColorScheme.Dark
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def style_sheet(dark: bool) -> str:
    text = (resources.files("resources") / "styles" / "studio.qss").read_text()
    for key, value in THEMES["dark" if dark else "light"].items():
        text = text.replace("{" + key + "}", value)
    return text


def splash_screen(dark: bool) -> QSplashScreen:
    """What shows while the studio starts: loading PyTorch alone takes seconds on a cold start."""
    from studio import icons
    from trainers import __version__

    colors = THEMES["dark" if dark else "light"]
    pixmap = QPixmap(440, 150)
    pixmap.fill(QColor(colors["panel"]))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.drawImage(24, 27, icons.render("app", 96))
    painter.setPen(QColor(colors["text"]))
    title = QFont(painter.font()); title.setPointSize(20); title.setBold(True)
    painter.setFont(title)
    painter.drawText(QRect(140, 34, 290, 40), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                     "GAN Studio")
    small = QFont(painter.font()); small.setPointSize(10); small.setBold(False)
    painter.setFont(small)
    painter.drawText(QRect(140, 74, 290, 20), Qt.AlignmentFlag.AlignLeft, f"version {__version__}")
    painter.setPen(QColor(colors["accent"]))
    painter.drawRect(0, 0, pixmap.width() - 1, pixmap.height() - 1)
    painter.end()
    splash = QSplashScreen(pixmap)
    splash.showMessage("Loading PyTorch …", Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight,
                       QColor(colors["text"]))
    return splash


def main(argv: list[str] | None = None) -> int:
    if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        print("GAN Studio needs a display: run it in a desktop session, or under a virtual one with "
              "`xvfb-run make run`. The engine works without one: python -m trainers --help", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    app.setApplicationName("GAN Studio")
    app.setOrganizationName("GAN Studio")
    app.setStyleSheet(style_sheet(is_dark(app)))
    if hasattr(app.styleHints(), "colorSchemeChanged"):
        app.styleHints().colorSchemeChanged.connect(lambda scheme: app.setStyleSheet(style_sheet(is_dark(app))))

    splash = splash_screen(is_dark(app))
    splash.show()
    app.processEvents()  # paint it now: the imports below hold the GUI thread until they are done

    from studio.main_window import MainWindow

    window = MainWindow()
    window.show()
    splash.finish(window)
    window.open_demo()
    last = window.settings.value("last_model")
    if last:
        from pathlib import Path

        if Path(str(last)).exists():
            window.open_model_file(str(last))
    return app.exec()
