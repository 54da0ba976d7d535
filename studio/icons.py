"""The studio's icons: plain SVG files in resources/icons, tinted at run time with the palette's text colour so
that they suit the light and the dark theme alike (no .qrc step; they load from a wheel too)."""

from __future__ import annotations

from importlib import resources

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QAbstractButton, QWidget

SIZES = (16, 24, 32, 48, 64)
NAME_PROPERTY = "studioIcon"  # the icon a button shows, kept so that a theme change can tint it again


def icon_names() -> list[str]:
    folder = resources.files("resources") / "icons"
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".svg"))


def render(name: str, size: int, color: QColor | str | None = None) -> QImage:
    """The icon drawn at size x size pixels; `currentColor` in the SVG becomes `color`."""
    svg = (resources.files("resources") / "icons" / f"{name}.svg").read_text()
    if color is not None:
        svg = svg.replace("currentColor", QColor(color).name())
    renderer = QSvgRenderer(QByteArray(svg.encode()))
    if not renderer.isValid():
        raise ValueError(f"resources/icons/{name}.svg is not a valid SVG image")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    return image


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    """A QIcon in several sizes (Qt derives the greyed-out look of a disabled button from it)."""
    result = QIcon()
    for size in SIZES:
        result.addPixmap(QPixmap.fromImage(render(name, size, color)))
    return result


def text_color(widget: QWidget) -> QColor:
    return widget.palette().color(QPalette.ColorRole.ButtonText)


def set_icon(button: QAbstractButton, name: str) -> None:
    button.setProperty(NAME_PROPERTY, name)
    button.setIcon(icon(name, text_color(button)))


def retint(root: QWidget) -> None:
    """Tint every button's icon below root again, after the palette changed (light to dark theme or back)."""
    for button in root.findChildren(QAbstractButton):
        name = button.property(NAME_PROPERTY)
        if name:
            button.setIcon(icon(str(name), text_color(button)))
