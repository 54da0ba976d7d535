"""Small layout helpers the panels share: a row of widgets, a splitter with its starting sizes, views side by side
under their captions, and Enter on a list doing what a double-click does."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QListWidget, QSplitter, QTreeWidget, QWidget


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


def captioned(*views: tuple[QLabel, QWidget]) -> QGridLayout:
    """Views side by side, each under its caption (centred), sharing the width; the views take the height."""
    grid = QGridLayout()
    for column, (caption, view) in enumerate(views):
        caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(caption, 0, column)
        grid.addWidget(view, 1, column)
        grid.setColumnStretch(column, 1)
    grid.setRowStretch(1, 1)
    return grid


def on_enter(view: QListWidget | QTreeWidget, act: Callable) -> None:
    """Return or Enter in `view` (while it has the focus) does act(item) for its current item, as a double-click
    does: the keyboard reaches what the mouse does."""
    def current() -> None:
        item = view.currentItem()
        if item is not None:
            act(item)

    for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
        QShortcut(QKeySequence(key), view, current, context=Qt.ShortcutContext.WidgetShortcut)
