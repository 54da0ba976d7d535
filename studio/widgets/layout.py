"""Small layout helpers the panels share: a row of widgets, and a splitter with its starting sizes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QWidget


def row(*widgets: QWidget, stretch: bool = True) -> QHBoxLayout:
    """Widgets left to right, then (by default) empty space, so that they keep their natural widths."""
    layout = QHBoxLayout()
    for widget in widgets:
        layout.addWidget(widget)
    if stretch:
        layout.addStretch(1)
    return layout


def split(*widgets: QWidget, sizes: list[int], vertical: bool = False) -> QSplitter:
    """Widgets side by side (or one above the other) with a handle between them to resize."""
    splitter = QSplitter(Qt.Orientation.Vertical if vertical else Qt.Orientation.Horizontal)
    for widget in widgets:
        splitter.addWidget(widget)
    splitter.setSizes(sizes)
    return splitter
