"""Studio fixtures: a main window with private settings, and tiny exported models made by the engine."""

import threading

import pytest

pytest.importorskip("pytestqt")

from tests.helpers import faces_folder, tiny_config  # noqa: E402


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """{'dcgan': path.onnx, 'stylegan2': path.onnx, 'dcgan-run': run folder}, trained two steps each."""
    from trainers.export import export_onnx
    from trainers.loop import train

    root = tmp_path_factory.mktemp("models")
    data = faces_folder(root, n=8, size=32)
    out = {}
    for family, extra in (("dcgan", {}), ("stylegan2", {"z_dim": 32})):
        run = root / family
        list(train(tiny_config(family, data, run, steps=2, **extra)))
        export_onnx(run, root / f"{family}.onnx", log=lambda m: None)
        out[family] = root / f"{family}.onnx"
        out[f"{family}-run"] = run
    return out


def dispose(window) -> None:
    """Shut a window down and destroy it here, on the GUI thread.

    Left to Python's garbage collector, a closed window is destroyed by whichever thread happens to collect it:
    in a later test that can be a worker thread, and Qt's destructors then deadlock against the GUI thread.
    """
    import gc

    import shiboken6

    window.shutdown()
    window.close()  # nothing is training now: it closes without asking
    if shiboken6.isValid(window):
        shiboken6.delete(window)
    gc.collect()


@pytest.fixture
def window(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from studio.main_window import MainWindow

    before = set(threading.enumerate())
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    # Not qtbot.addWidget: pytest-qt closes such widgets before fixtures end, and closing a window that is still
    # training asks the user (a modal question, which would wait forever when a test fails mid-run).
    w.show()
    yield w
    dispose(w)
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()
                and t.name in ("training", "folder-scan", "renderer", "interpolation-export", "compare-scoring")]
    assert leftover == [], f"threads still running after shutdown: {leftover}"


def open_model(qtbot, window, path):
    window.open_model_file(str(path))
    qtbot.waitUntil(lambda: window.state.model is not None and window.state.model.info.path == str(path),
                    timeout=20000)
    return window.state.model
