"""The GUI thread runs no model work: training steps, checkpoint reads, torch and onnxruntime inference and
scoring all happen in worker threads, so the window never freezes while a user works."""

import threading

import onnxruntime as ort
import torch

from tests.studio.conftest import open_model
from tests.studio.test_main_window import prepare_training, wait_until_ended
from trainers import projection
from trainers.checkpoint import latest_checkpoint


def watch_gui_thread(monkeypatch) -> list[str]:
    """Names of the model calls made on the GUI (main) thread from now on."""
    calls: list[str] = []
    gui = threading.main_thread()

    def guarded(name, fn):
        def call(*args, **kwargs):
            if threading.current_thread() is gui:
                calls.append(name)
            return fn(*args, **kwargs)
        return call

    monkeypatch.setattr(torch, "load", guarded("torch.load", torch.load))
    monkeypatch.setattr(torch.nn.Module, "__call__", guarded("a torch module's forward", torch.nn.Module.__call__))
    for method in ("run", "run_with_iobinding"):
        monkeypatch.setattr(ort.InferenceSession, method,
                            guarded(f"onnxruntime {method}", getattr(ort.InferenceSession, method)))
    return calls


def test_a_whole_session_runs_no_model_work_on_the_gui_thread(qtbot, window, tiny_models, tmp_path, monkeypatch):
    calls = watch_gui_thread(monkeypatch)
    # train, then resume the run
    panel = prepare_training(qtbot, window, tmp_path, steps=3, batch=4, sample_every=2, checkpoint_every=2)
    panel.start()
    wait_until_ended(qtbot, panel)
    panel.steps.setValue(5)
    panel.resume_run(str(tmp_path / "run"))
    wait_until_ended(qtbot, panel)
    assert "Finished at step 5" in panel.status.text()
    # explore a checkpoint (torch) and an exported model (onnxruntime) in every panel
    monkeypatch.setattr(projection, "STEPS", 5)
    monkeypatch.setattr(projection, "SEARCH", 16)
    for model in (latest_checkpoint(tiny_models["stylegan2-run"]), tiny_models["stylegan2"]):
        open_model(qtbot, window, model)
        search = window.generate_panel.find_face(str(next((tmp_path / "faces").glob("*.png"))))
        qtbot.waitUntil(lambda: search.found is not None, timeout=30000)
        search.edit_button.click()  # the face found, edited along the model's directions
        editor = window.generate_panel._dialogs[-1]
        qtbot.waitUntil(editor.ready, timeout=30000)
        editor.sliders[0].setValue(10)
        window.interpolate_panel.set_seeds([1, 2])
        window.interpolate_panel.scrub.setValue(10)
        window.interpolate_panel.method.setCurrentText("lerp in w")  # a walk in w maps its seeds' z first
        window.interpolate_panel.truncation.setValue(70)
        window.style_mix_panel.update_grid()
        qtbot.waitUntil(lambda: window.renderer.idle(), timeout=30000)
    compare = window.compare_panel
    compare.set_checked(list(window.state.models)[:2])
    qtbot.waitUntil(lambda: len(compare.shown) == 2, timeout=30000)
    compare.score()
    qtbot.waitUntil(lambda: len(compare.scores) == 2, timeout=60000)
    qtbot.waitUntil(lambda: window.renderer.idle(), timeout=30000)
    assert window.generate_panel.grid.count() > 0 and window.style_mix_panel.figure is not None
    assert calls == [], f"model work on the GUI thread: {sorted(set(calls))}"
