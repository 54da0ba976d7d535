"""The studio opens on its demo."""

import pytest

pytest.importorskip("pytestqt")


def test_main_window_shows_demo_faces(qtbot):
    from studio.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    label = window.centralWidget().widget()
    assert label.pixmap().width() > 500
    assert "demo" in window.statusBar().currentMessage()
