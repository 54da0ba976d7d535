"""The studio as a user drives it: drop a folder, train in the background, generate and export faces."""

import json
import os
import shutil
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from tests.helpers import faces_folder
from tests.studio.conftest import dispose, open_model
from tests.studio.test_icons import icon_pixels
from trainers import events as ev
from trainers.checkpoint import latest_checkpoint
from trainers.explore import latent_metadata
from trainers.images import save_png
from trainers.inference import open_model as engine_open


def drop_folder(window, *paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def prepare_training(qtbot, window, tmp_path, steps, batch, processes=1, **extra):
    """A 32px demo-face dataset and a tiny dcgan on the CPU, ready to Start."""
    window.dataset_panel.resolution.setValue(32)
    window.dataset_panel.load(str(faces_folder(tmp_path, n=16, size=32)))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20000)
    panel = window.train_panel
    panel.family.setCurrentText("dcgan")
    panel.batch.setValue(batch)
    panel.steps.setValue(steps)
    panel.device.setCurrentText("cpu")
    panel.processes.setValue(processes)
    panel.out.setText(str(tmp_path / "run"))
    panel.extra_settings = {"g_width": 32, "d_width": 8, "log_every": 2, **extra}
    return panel


def wait_until_ended(qtbot, panel, timeout=180000):
    """Until the run is over as the user sees it: Start is offered again (its thread ends a moment earlier)."""
    qtbot.waitUntil(lambda: panel.start_button.isEnabled() and not panel.is_training(), timeout=timeout)


def ink_in_the_middle(grid) -> int:
    """Pixels of the grid's middle band that differ from its background: the placeholder's text, or faces."""
    image = grid.viewport().grab().toImage()
    h, w = image.height(), image.width()
    background = image.pixel(2, 2)
    return sum(image.pixel(x, y) != background for y in range(h // 2 - 20, h // 2 + 20) for x in range(0, w, 2))


def test_dropping_a_folder_loads_it(qtbot, window, tmp_path):
    grid = window.dataset_panel.grid
    window.tabs.setCurrentWidget(window.dataset_panel)
    # before any folder, the empty area says what to do and the skipped-files list is out of the way
    assert "Drop a folder of images (or a .zip or .tar of them) here" in grid.placeholder and ink_in_the_middle(grid) > 50
    assert not window.dataset_panel.report.isVisible()
    folder = faces_folder(tmp_path, n=12, size=64)
    (folder / "broken.png").write_bytes(b"not a png")
    drop_folder(window, folder)
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20000)
    assert len(window.state.dataset) == 12
    assert window.dataset_panel.grid.count() == 12
    names = {window.dataset_panel.grid.item(i).toolTip() for i in range(12)}
    assert names == {p.name for p in folder.iterdir() if p.name != "broken.png"}  # each thumbnail names its file
    assert window.dataset_panel.report.topLevelItemCount() == 1
    assert "broken.png" in window.dataset_panel.report.topLevelItem(0).text(0)
    assert window.dataset_panel.report.topLevelItem(0).text(1).startswith("skipped: ")
    assert "1 file skipped" in window.dataset_panel.summary.text()


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_dropping_an_archive_of_images_loads_it_in_place(qtbot, window, tmp_path, kind):
    folder = faces_folder(tmp_path, n=6, size=32)
    (tmp_path / "drop").mkdir()
    path = tmp_path / "drop" / f"faces.{kind}"
    with zipfile.ZipFile(path, "w") if kind == "zip" else tarfile.open(path, "w") as archive:
        for p in sorted(folder.iterdir()):
            (archive.write if kind == "zip" else archive.add)(p, f"faces/{p.name}")
    window.tabs.setCurrentWidget(window.train_panel)
    drop_folder(window, path)
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20000)
    assert window.tabs.currentWidget() is window.dataset_panel
    assert len(window.state.dataset) == 6 and window.dataset_panel.grid.count() == 6
    assert window.dataset_panel.grid.item(0).toolTip() == "faces/face-00000.png"
    assert f"faces.{kind}" in window.dataset_panel.summary.text()
    assert os.listdir(tmp_path / "drop") == [f"faces.{kind}"]  # nothing unpacked beside it


def test_the_open_archive_button_loads_one_and_the_next_dialog_starts_beside_it(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    folder = faces_folder(tmp_path, n=4, size=32)
    path = tmp_path / "faces.tar.gz"  # a compressed tar, read in one pass
    with tarfile.open(path, "w:gz") as tar:
        for p in sorted(folder.iterdir()):
            tar.add(p, p.name)
    started = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda parent, title, start, filters: started.append((start, filters)) or (str(path), filters))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        lambda parent, title, start: started.append((start, None)) or "")
    window.dataset_panel.zip_button.click()
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20000)
    assert window.state.dataset.report.folder == str(path) and len(window.state.dataset) == 4
    assert started[0][1] == "Archives of images (*.zip *.tar *.tar.gz *.tgz *.tar.bz2 *.tbz2 *.tar.xz *.txz " \
                            "*.tar.zst *.tzst)"
    window.dataset_panel.open_button.click()  # cancelled: nothing else changes
    window.dataset_panel.zip_button.click()
    assert [s for s, _ in started[1:]] == [str(tmp_path), str(tmp_path)]  # the archive's folder, not the archive
    qtbot.waitUntil(lambda: not window.dataset_panel.busy(), timeout=20000)  # it read the archive again


def test_dropping_single_images_says_to_drop_their_folder(qtbot, window, tmp_path):
    folder = faces_folder(tmp_path, n=2, size=32)
    drop_folder(window, sorted(folder.iterdir())[0])
    assert "drop the folder that holds them" in window.statusBar().currentMessage()
    assert window.state.dataset is None


def test_a_folder_without_images_is_explained_and_a_slow_read_can_be_cancelled(qtbot, window, tmp_path,
                                                                              monkeypatch):
    import studio.workers
    from trainers.data import ScanCancelled

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no faces here")
    drop_folder(window, empty)
    panel = window.dataset_panel
    qtbot.waitUntil(lambda: panel.summary.text().startswith("Cannot use this folder"), timeout=20000)
    assert panel.summary.text().startswith("Cannot use this folder: no usable image")  # the message, no type name
    assert window.state.dataset is None

    def endless_read(folder, resolution, progress, cancel):
        progress(1, 1000)
        while not cancel():
            threading.Event().wait(0.01)
        raise ScanCancelled()

    monkeypatch.setattr(studio.workers, "load_folder", endless_read)
    drop_folder(window, faces_folder(tmp_path, n=2, size=32))
    qtbot.waitUntil(lambda: panel.progress.value() == 1, timeout=5000)
    assert panel.cancel_button.isVisible()
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "was cancelled" in panel.summary.text() and not panel.busy(), timeout=5000)
    assert not panel.cancel_button.isVisible() and window.state.dataset is None


def test_choosing_another_resolution_reads_the_open_folder_at_that_size(qtbot, window, tmp_path):
    folder = faces_folder(tmp_path, n=6, size=96)
    drop_folder(window, folder)
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20000)
    assert window.state.dataset.images.shape[-1] == 64  # the default
    window.dataset_panel.resolution.setValue(32)
    qtbot.waitUntil(lambda: window.state.dataset.resolution == 32, timeout=20000)
    assert window.state.dataset.images.shape == (6, 3, 32, 32)
    assert "at 32x32" in window.dataset_panel.summary.text()


def test_training_shows_previews_pauses_resumes_and_stops_cleanly_without_blocking_the_gui(qtbot, window, tmp_path,
                                                                                              monkeypatch):
    panel = prepare_training(qtbot, window, tmp_path, steps=100_000, batch=8, sample_every=3, checkpoint_every=1000)
    events = []

    gaps, last = [], [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)

    panel.start()
    panel.run.event.connect(events.append)
    qtbot.waitUntil(lambda: any(isinstance(e, ev.Samples) for e in events), timeout=30000)
    assert panel.status.text() == "Training dcgan on 16 images at 32x32 (CPU)"
    assert panel.samples.image is not None  # the live preview shows a sample grid
    first = panel.samples.image.copy()
    qtbot.waitUntil(lambda: sum(isinstance(e, ev.Samples) for e in events) >= 3, timeout=30000)
    assert not np.array_equal(first, panel.samples.image)  # and it changes as training goes on
    warm = len(gaps)
    qtbot.waitUntil(lambda: sum(isinstance(e, ev.Progress) for e in events) >= 12, timeout=60000)
    timer.stop()
    assert max(gaps[warm:]) < 0.150, f"GUI thread blocked for {max(gaps[warm:]) * 1000:.0f} ms during training"

    pause_look = icon_pixels(panel.pause_button.icon())
    panel.toggle_pause()
    qtbot.waitUntil(lambda: any(isinstance(e, ev.Paused) for e in events), timeout=20000)
    paused_at = [e for e in events if isinstance(e, ev.Paused)][-1].step
    qtbot.wait(300)
    assert not any(isinstance(e, ev.Progress) and e.step > paused_at for e in events)
    # the button now offers to resume, with the Start button's play icon
    assert panel.pause_button.text() == "Resume"
    assert np.array_equal(icon_pixels(panel.pause_button.icon()), icon_pixels(panel.start_button.icon()))
    panel.toggle_pause()
    qtbot.waitUntil(lambda: any(isinstance(e, ev.Resumed) for e in events), timeout=20000)
    assert panel.pause_button.text() == "Pause" and np.array_equal(icon_pixels(panel.pause_button.icon()), pause_look)
    alerts = []
    monkeypatch.setattr(QApplication, "alert", lambda widget, msec=0: alerts.append(widget))
    panel.stop()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=30000)  # the user can start again
    assert not panel.is_training() and alerts == []  # the user stopped it: nothing to tell them
    finished = [e for e in events if isinstance(e, ev.Finished)]
    assert finished and finished[-1].stopped
    assert latest_checkpoint(tmp_path / "run") is not None
    assert panel.checkpoints.count() >= 1


def test_a_full_disk_pauses_the_run_and_the_panel_says_why_and_offers_to_resume(qtbot, window, tmp_path,
                                                                                monkeypatch):
    import trainers.checkpoint
    import trainers.loop

    real_save, failures = trainers.checkpoint.save_checkpoint, [1]

    def full_once(run_dir, state, step, **kw):
        if step == 4 and failures:
            failures.pop()
            raise OSError(28, "No space left on device")
        return real_save(run_dir, state, step, **kw)

    monkeypatch.setattr(trainers.loop, "save_checkpoint", full_once)
    panel = prepare_training(qtbot, window, tmp_path, steps=6, batch=4, checkpoint_every=2, sample_every=100)
    events = []
    panel.start()
    panel.run.event.connect(events.append)
    qtbot.waitUntil(lambda: any(isinstance(e, ev.Paused) for e in events), timeout=60000)
    # the engine paused the run itself: the button offers to resume it, and the reason stays under the status line
    assert panel.status.text() == "Paused at step 4" and panel.pause_button.text() == "Resume"
    assert not panel.notes.isHidden() and panel.notes.text().startswith(
        "Note: could not write the checkpoint for step 4: No space left on device. Training is paused")
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)  # space was freed: go on
    wait_until_ended(qtbot, panel)
    assert [e.step for e in events if isinstance(e, ev.Checkpointed)] == [2, 4, 6]  # nothing lost
    assert panel.status.text().startswith("Finished at step 6") and panel.pause_button.text() == "Pause"
    panel.out.setText(str(tmp_path / "second"))
    panel.steps.setValue(2)
    panel.start()  # a new run starts with no notes
    wait_until_ended(qtbot, panel)
    assert panel.status.text().startswith("Finished at step 2") and panel.notes.isHidden()


def stylegan2_faces(qtbot, window, tiny_models, first: int, psi: float):
    """Generate showing the tiny StyleGAN2's faces for seeds first to first + 3 at truncation psi."""
    open_model(qtbot, window, tiny_models["stylegan2"])
    panel = window.generate_panel
    panel.count.setValue(4)
    panel.first_seed.setValue(first)
    panel.truncation.setValue(round(psi * 100))
    qtbot.waitUntil(lambda: panel.seeds == list(range(first, first + 4)) and panel.rendered_truncation == psi,
                    timeout=20000)
    return panel


def test_a_saved_face_dropped_on_the_window_opens_its_model_at_its_seed(qtbot, window, tiny_models, tmp_path,
                                                                       monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    panel = stylegan2_faces(qtbot, window, tiny_models, first=40, psi=0.7)
    face = panel.export(selected_only=False, folder=str(tmp_path / "out"))[2]
    grid = panel.save_grid_png(str(tmp_path / "grid.jpg"))
    open_model(qtbot, window, tiny_models["dcgan"])
    panel.first_seed.setValue(0)
    window.tabs.setCurrentWidget(window.dataset_panel)

    drop_folder(window, face)  # seed 42 of the StyleGAN2 model at ψ 0.7, with another model open
    qtbot.waitUntil(lambda: window.state.model.info.path == str(tiny_models["stylegan2"]) and panel.seeds
                    and panel.seeds[0] == 42 and panel.rendered_truncation == 0.7, timeout=20000)
    assert window.tabs.currentWidget() is panel and panel.selected_seeds() == [42]
    assert np.array_equal(panel.grid.faces[0].transpose(1, 2, 0), np.asarray(Image.open(face)))  # the same face
    assert panel.truncation_label.text() == "ψ 0.70"
    assert "seed 42 of stylegan2.onnx" in window.statusBar().currentMessage()

    drop_folder(window, grid)  # a grid (a JPEG, its record in the comment): all its seeds, the first selected
    qtbot.waitUntil(lambda: panel.seeds == [40, 41, 42, 43], timeout=20000)
    assert panel.selected_seeds() == [40]

    gone = tmp_path / "gone.png"
    save_png(gone, np.asarray(Image.open(face)), {"seed": "5", "model": str(tmp_path / "deleted.onnx"),
                                                   "family": "stylegan2", "software": "GAN Studio"})
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, buttons: asked.append(text) or
                        QMessageBox.StandardButton.Cancel)
    drop_folder(window, gone)  # its model has gone: the user is asked where it is, and says nothing
    assert "made by " + str(tmp_path / "deleted.onnx") + " (seed 5), which is no longer there" in asked[0]
    assert "which is no longer there: open that model where it is now" in window.statusBar().currentMessage()
    assert window.state.model.info.path == str(tiny_models["stylegan2"])  # nothing else changed

    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Open)
    looked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda parent, title, start, filters: looked.append(
        (title, start)) or (str(tiny_models["dcgan"]), filters))
    drop_folder(window, gone)  # ... and then shows one: a DCGAN, which opens at seed 5, with a word on its faces
    qtbot.waitUntil(lambda: window.state.model.info.path == str(tiny_models["dcgan"]) and panel.seeds == [5],
                    timeout=20000)
    assert looked == [("Where is deleted.onnx now?", str(tmp_path))] and panel.selected_seeds() == [5]
    assert "made by a stylegan2 model, not this dcgan one" in window.statusBar().currentMessage()

    sent = tmp_path / "sent"  # a face sent with its model: the model of its name beside it opens, unasked
    sent.mkdir()
    shutil.copy(tiny_models["stylegan2"], sent / "deleted.onnx")
    save_png(sent / "face.png", np.asarray(Image.open(face)), {"seed": "42", "truncation": "0.7",
                                                               "model": str(tmp_path / "deleted.onnx"),
                                                               "software": "GAN Studio"})
    monkeypatch.setattr(QMessageBox, "question", lambda *args: pytest.fail("asked where a model beside it is"))
    drop_folder(window, sent / "face.png")
    qtbot.waitUntil(lambda: window.state.model.info.path == str(sent / "deleted.onnx") and panel.seeds == [42],
                    timeout=20000)
    assert np.array_equal(panel.grid.faces[0].transpose(1, 2, 0), np.asarray(Image.open(face)))


def test_saved_faces_dropped_on_interpolate_or_style_mixing_become_its_walk_or_grid(qtbot, window, tiny_models,
                                                                                    tmp_path):
    panel = stylegan2_faces(qtbot, window, tiny_models, first=30, psi=0.8)
    first, _, _, last = panel.export(selected_only=False, folder=str(tmp_path / "out"))
    faces = {seed: face.copy() for seed, face in zip(panel.seeds, panel.grid.faces)}
    open_model(qtbot, window, tiny_models["dcgan"])
    walk = window.interpolate_panel
    walk.truncation.set_psi(1.0, quiet=True)
    window.tabs.setCurrentWidget(walk)

    drop_folder(window, last, first)  # with another model open: theirs opens, and the walk goes from 33 to 30
    qtbot.waitUntil(lambda: window.state.model.info.path == str(tiny_models["stylegan2"])
                    and walk.walk_seeds == [33, 30], timeout=20000)
    assert window.tabs.currentWidget() is walk and walk.truncation.label.text() == "ψ 0.80"
    assert "A walk through 2 saved faces (seeds 33, 30) of stylegan2.onnx" in window.statusBar().currentMessage()
    walk.scrub.setValue(0)
    qtbot.waitUntil(lambda: walk.view.image is not None and np.array_equal(walk.view.image, faces[33]), timeout=20000)
    walk.scrub.setValue(walk.scrub.maximum())
    qtbot.waitUntil(lambda: np.array_equal(walk.view.image, faces[30]), timeout=20000)  # ends on the last one dropped

    (tmp_path / "other").mkdir()
    save_png(tmp_path / "other" / "face.png", faces[30].transpose(1, 2, 0),
             {"seed": "5", "model": str(tiny_models["dcgan"]), "software": "GAN Studio"})
    drop_folder(window, first, tmp_path / "other" / "face.png")  # two models' faces: no walk between them
    assert "These faces were made by different models" in window.statusBar().currentMessage()
    assert walk.seeds.text() == "33, 30" and window.state.model.info.path == str(tiny_models["stylegan2"])
    drop_folder(window, first)  # one face is no walk: it opens in Generate, as anywhere else
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is panel and panel.selected_seeds() == [30], timeout=20000)

    mix = window.style_mix_panel  # on Style mixing: each face's styles over each other face
    open_model(qtbot, window, tiny_models["dcgan"])
    window.tabs.setCurrentWidget(mix)
    drop_folder(window, last, first)
    qtbot.waitUntil(lambda: window.state.model.info.path == str(tiny_models["stylegan2"]) and mix.mixed is not None
                    and mix.mixed.shape[:2] == (2, 2), timeout=20000)
    assert (mix.rows.text(), mix.columns.text(), mix.truncation.label.text()) == ("33, 30", "33, 30", "ψ 0.80")
    assert np.array_equal(mix.mixed[0, 0], faces[33])  # a face mixed with itself is itself
    save_png(tmp_path / "other" / "dcgan.png", faces[30].transpose(1, 2, 0),
             {"seeds": "1-2", "model": str(tiny_models["dcgan"]), "family": "dcgan", "software": "GAN Studio"})
    drop_folder(window, tmp_path / "other" / "dcgan.png")
    assert "Style mixing needs StyleGAN2 faces: these were made by a dcgan model" in \
        window.statusBar().currentMessage()


def test_a_picture_dropped_with_a_model_open_is_looked_for_among_its_faces(qtbot, window, tiny_models, tmp_path,
                                                                            monkeypatch):
    from trainers import projection

    monkeypatch.setattr(projection, "STEPS", 20)
    monkeypatch.setattr(projection, "SEARCH", 64)
    drop_folder(window, tmp_path)  # (no model yet: a picture is only one image)
    Image.new("RGB", (50, 40), (200, 120, 90)).save(tmp_path / "photo.png")
    drop_folder(window, tmp_path / "photo.png")
    assert "is one image: to train on images, drop the folder" in window.statusBar().currentMessage()
    model = open_model(qtbot, window, tiny_models["stylegan2"])
    panel = window.generate_panel
    window.tabs.setCurrentWidget(window.train_panel)
    drop_folder(window, tmp_path / "photo.png")
    assert window.tabs.currentWidget() is panel
    dialog = panel._dialogs[-1]
    assert "photo.png" in dialog.windowTitle() and not dialog.save_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.found is not None, timeout=60000)
    found = dialog.found
    assert np.array_equal(dialog.picture_view.image, np.full((3, 32, 32), [[[200]], [[120]], [[90]]]))
    assert np.array_equal(dialog.found_view.image, found.face) and np.array_equal(dialog.seed_view.image,
                                                                                   found.seed_face)
    assert dialog.message.text().startswith(f"Found {found.distance:.3f} away from the picture")
    qtbot.waitUntil(lambda: panel.status.text().startswith(  # (told by the same signal, a moment later)
        f"Found a face like photo.png, {found.distance:.3f} away (seed {found.seed}"), timeout=5000)
    assert dialog.progress.value() == dialog.progress.maximum() == 1 + 20
    saved = dialog.save(str(tmp_path / "found.png"))
    with Image.open(saved) as png:
        ws = np.frombuffer(__import__("base64").b64decode(png.text["latent"]), "<f4")
        assert np.array_equal(np.asarray(png.convert("RGB")), found.face.transpose(1, 2, 0))
    assert np.array_equal(model.synthesize(np.repeat(ws[None, None], model.info.num_ws, 1))[0], found.face)
    dialog.edit_button.click()  # the face found, edited
    editor = panel._dialogs[-1]
    assert editor.windowTitle().startswith("Edit the face found for photo.png")
    qtbot.waitUntil(editor.ready, timeout=30000)
    assert np.array_equal(editor.start_view.image, found.face)
    editor.sliders[1].setValue(-10)
    qtbot.waitUntil(lambda: not editor.busy() and not np.array_equal(editor.edited_view.image, found.face),
                    timeout=20000)
    from trainers.explore import found_face

    record = found_face(editor.save(str(tmp_path / "found-edited.png")))
    assert record.edit == "the face found for photo.png: direction 2 -1" and record.picture == str(tmp_path /
                                                                                                      "photo.png")
    # Cancelled, a search stops and says so; a file that is no picture is named.
    monkeypatch.setattr(projection, "STEPS", 100_000)
    dialog = panel.find_face(str(tmp_path / "photo.png"))
    qtbot.waitUntil(lambda: dialog.progress.value() > 2, timeout=30000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.message.text() == "Cancelled." and not dialog.searching()
                    and panel.status.text() == "No face like photo.png: cancelled", timeout=30000)
    assert not dialog.save_button.isEnabled()
    (tmp_path / "notes.png").write_text("no picture")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "notes.png"), ""))
    window.choose_model()  # Ctrl+O on a picture with a model open: the same search
    dialog = panel._dialogs[-1]
    assert "notes.png" in dialog.windowTitle()
    qtbot.waitUntil(lambda: not dialog.searching(), timeout=30000)
    assert dialog.message.text() == "Cannot find a face like it: notes.png: not an image"


def test_faces_found_for_pictures_dropped_on_interpolate_or_style_mixing_become_its_walk_or_grid(qtbot, window,
                                                                                                 tiny_models, tmp_path,
                                                                                                 monkeypatch):
    from trainers import projection
    from trainers.inference import open_model as engine_model

    model = engine_model(tiny_models["stylegan2"])
    found = {}
    for name, seed in (("a", 101), ("b", 202)):
        found[name] = projection.find_face(model, model.generate([seed])[0], steps=2, search=4)
        text = latent_metadata(model, "w", found[name].key, str(tmp_path / f"{name}.png"),
                                         found[name].distance)
        save_png(tmp_path / f"{name}-found.png", found[name].face.transpose(1, 2, 0), text)
    save_png(tmp_path / "seed-7.png", model.generate([7])[0].transpose(1, 2, 0),
             {"seed": "7", "model": str(tiny_models["stylegan2"]), "family": "stylegan2", "software": "GAN Studio"})
    open_model(qtbot, window, tiny_models["dcgan"])
    walk = window.interpolate_panel
    walk.method.setCurrentText("slerp in z")
    window.tabs.setCurrentWidget(walk)

    drop_folder(window, tmp_path / "b-found.png", tmp_path / "seed-7.png", tmp_path / "a-found.png")
    qtbot.waitUntil(lambda: window.state.model.info.path == str(tiny_models["stylegan2"])
                    and len(walk.walk_seeds) == 3, timeout=20000)
    assert walk.seeds.text() == "[b-found.png], 7, [a-found.png]" and walk.method.currentText() == "lerp in w"
    assert "A walk through 3 saved faces ([b-found.png], 7, [a-found.png])" in window.statusBar().currentMessage()
    walk.truncation.set_psi(1.0)
    qtbot.waitUntil(lambda: walk.psi == 1.0, timeout=20000)
    for frame, face in ((0, found["b"].face), (walk.scrub.maximum(), found["a"].face)):
        walk.scrub.setValue(frame)  # it starts on the first face found and ends on the last
        qtbot.waitUntil(lambda: walk.view.image is not None and np.array_equal(walk.view.image, face), timeout=20000)
    walk.method.setCurrentText("slerp in z")  # a found w has no z
    qtbot.waitUntil(lambda: walk.method.currentText() == "lerp in w", timeout=5000)
    walk.seeds.setText("[b-found.png], 8")
    walk.update_path()
    assert walk.message.text().startswith("faces found for pictures or edited cannot be typed among the seeds")
    open_model(qtbot, window, tiny_models["dcgan"])  # another model: its faces are not these
    walk.set_seeds([found["a"].key, found["b"].key], names=["a", "b"], found_by=str(tiny_models["stylegan2"]))
    assert walk.message.text() == "These faces were made by stylegan2.onnx: open it to walk through them"

    mix = window.style_mix_panel  # on Style mixing: each face's styles over each other's
    window.tabs.setCurrentWidget(mix)
    drop_folder(window, tmp_path / "a-found.png", tmp_path / "seed-7.png")
    qtbot.waitUntil(lambda: window.state.model.info.path == str(tiny_models["stylegan2"]) and mix.mixed is not None
                    and mix.shown[0] == ["a-found.png", "seed 7"], timeout=20000)
    assert mix.rows.text() == mix.columns.text() == "[a-found.png], 7"
    mix.truncation.set_psi(1.0)
    qtbot.waitUntil(lambda: mix.shown is not None and np.array_equal(mix.mixed[0, 0], found["a"].face),
                    timeout=20000)  # the found face mixed with itself is itself
    size = found["a"].face.shape[-1]
    assert mix.describe(size + 2, 2 * size + 2) == f"a-found.png's face with seed 7's {mix.shown[2]}"
    assert mix.describe(2, size + 2) == f"a-found.png: gives its {mix.shown[2]} to the faces in its row"
    mix.random_seeds()  # seeds again
    assert "[" not in mix.rows.text() and mix.unavailable.text() == ""
    window.tabs.setCurrentWidget(window.dataset_panel)
    drop_folder(window, tmp_path / "a-found.png")  # one alone: its model opens, the face in Edit face (no search)
    qtbot.waitUntil(lambda: window.state.model.info.path == str(tiny_models["stylegan2"]), timeout=20000)
    qtbot.waitUntil(lambda: "a-found.png is the face found for a.png by stylegan2.onnx: it opens in Edit face" in
                    window.statusBar().currentMessage(), timeout=20000)
    [editor] = window.generate_panel._dialogs
    assert editor.windowTitle().startswith("Edit the face found for a.png")
    qtbot.waitUntil(editor.ready, timeout=30000)
    assert np.array_equal(editor.start_view.image, found["a"].face)
    editor.close()
    window.generate_panel._dialogs.clear()
    # Its model gone: the studio asks where it is now (here the answer is Cancel), and says so without seeds.
    from PySide6.QtWidgets import QMessageBox

    text = latent_metadata(model, "w", found["a"].key, str(tmp_path / "a.png"))
    save_png(tmp_path / "lost-found.png", found["a"].face.transpose(1, 2, 0), {**text, "model": "/gone/sg.onnx"})
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    drop_folder(window, tmp_path / "lost-found.png")
    assert window.statusBar().currentMessage() == ("lost-found.png was made by /gone/sg.onnx (the face found for "
                                                   "a.png), which is no longer there: open that model where it is now")
    assert window.generate_panel._dialogs == []


def test_exported_pngs_regenerate_the_same_face(qtbot, window, tiny_models, tmp_path):
    model = open_model(qtbot, window, tiny_models["stylegan2"])
    panel = window.generate_panel
    panel.count.setValue(4)
    panel.first_seed.setValue(40)
    panel.truncation.setValue(70)
    qtbot.waitUntil(lambda: panel.seeds == [40, 41, 42, 43] and panel.rendered_truncation == 0.7, timeout=20000)
    paths = panel.export(selected_only=False, folder=str(tmp_path / "out"))
    assert len(paths) == 4
    png = Image.open(paths[2])
    seed, psi = int(png.text["seed"]), float(png.text["truncation"])
    assert seed == 42 and psi == 0.7 and png.text["model"] == str(tiny_models["stylegan2"])
    again = engine_open(png.text["model"]).generate([seed], truncation=psi)[0].transpose(1, 2, 0)
    assert np.array_equal(np.asarray(png), again)
    assert model.info.family in paths[0]
    grid = Image.open(panel.save_grid_png(str(tmp_path / "grid.png")))  # the grid says how to make it again
    assert (grid.text["seeds"], grid.text["truncation"], grid.text["model"]) == ("40-43", "0.7",
                                                                                str(tiny_models["stylegan2"]))
    assert Image.open(panel.save_grid_png(str(tmp_path / "grid.webp"))).format == "WEBP"  # as its name says


def test_an_export_that_cannot_be_written_says_so(qtbot, window, tiny_models, tmp_path):
    open_model(qtbot, window, tiny_models["stylegan2"])
    panel = window.generate_panel
    panel.count.setValue(3)
    qtbot.waitUntil(lambda: len(panel.seeds) == 3 and len(panel.grid.faces) == 3, timeout=20000)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert panel.export(selected_only=False, folder=str(blocker / "faces")) == []
    assert panel.status.text().startswith(f"Cannot write to {blocker / 'faces'}")
    assert panel.save_grid_png(str(blocker / "grid.png")) is None
    assert panel.status.text().startswith(f"Cannot write {blocker / 'grid.png'}")
    mix = window.style_mix_panel
    mix.update_grid()
    qtbot.waitUntil(lambda: mix.figure is not None, timeout=20000)
    assert mix.save(str(blocker / "mix.png")) is None and "Cannot write" in mix.unavailable.text()


def test_exports_never_overwrite_another_models_faces(qtbot, window, tiny_models, tmp_path):
    import shutil

    out = tmp_path / "out"
    twin = tmp_path / "other-run" / tiny_models["stylegan2"].name  # same file name, another model
    twin.parent.mkdir()
    shutil.copy(tiny_models["stylegan2"], twin)
    panel = window.generate_panel
    written = []
    for path, psi in ((tiny_models["stylegan2"], 100), (tiny_models["stylegan2"], 70), (twin, 100)):
        open_model(qtbot, window, path)
        panel.count.setValue(3)
        panel.first_seed.setValue(5)
        panel.truncation.setValue(psi)
        qtbot.waitUntil(lambda: panel.seeds == [5, 6, 7] and panel.rendered_truncation == psi / 100, timeout=20000)
        written.append(panel.export(selected_only=False, folder=str(out)))
    assert len(set(sum(written, []))) == 9 and len(list(out.iterdir())) == 9  # nine faces, nine files
    assert "psi0.70" in written[1][0] and "psi" not in written[0][0]
    assert Image.open(written[2][0]).text["model"] == str(twin)
    assert Image.open(written[0][0]).text["model"] == str(tiny_models["stylegan2"])
    # exporting the same faces again rewrites them in place
    assert panel.export(selected_only=False, folder=str(out)) == written[2]
    assert len(list(out.iterdir())) == 9


def test_a_large_grid_renders_in_parts_with_progress_and_gives_way_to_a_newer_request(qtbot, window, tiny_models):
    model = open_model(qtbot, window, tiny_models["stylegan2"])
    panel = window.generate_panel
    qtbot.waitUntil(window.renderer.idle, timeout=20000)
    calls, progress, grids = [], [], []
    generate = model.generate
    model.generate = lambda seeds, **kw: calls.append(len(seeds)) or generate(seeds, **kw)
    window.renderer.progress.connect(lambda key, done, total: progress.append((done, total)))
    window.renderer.done.connect(lambda key, result: key == "generate" and result and grids.append(result[0][0]))
    panel.count.setValue(320)  # ten parts of 32
    panel.first_seed.setValue(1000)  # the user moves on before the grid is done…
    panel.first_seed.setValue(2000)  # …twice
    # the panel's handler and this test's come as separate queued calls: wait for both
    qtbot.waitUntil(lambda: bool(grids) and panel.seeds[:1] == [2000] and window.renderer.idle(), timeout=60000)
    assert grids == [2000]  # only the latest request was finished and shown
    assert sum(calls) <= 320 + 2 * 32  # the older requests stopped after at most a part each
    assert progress[-1] == (320, 320) and (32, 320) in progress
    assert len(panel.grid.faces) == 320 and panel.status.text() == "320 faces"


def test_status_bar_names_the_inference_provider(qtbot, window, tiny_models):
    open_model(qtbot, window, tiny_models["dcgan"])
    assert "CPUExecutionProvider" in window.provider_label.text()
    qtbot.waitUntil(lambda: "CPU" in window.device_label.text(), timeout=20000)


def test_about_names_the_versions_a_bug_report_needs(qtbot, window, monkeypatch):
    import onnxruntime
    import torch
    from PySide6.QtWidgets import QMessageBox

    from trainers import __version__

    shown = []
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: shown.append(text))
    window.show_about()
    assert __version__ in shown[0] and torch.__version__.split("+")[0] in shown[0]
    assert f"onnxruntime {onnxruntime.__version__}" in shown[0] and "PySide6 6." in shown[0]


def test_a_bad_model_file_is_reported_not_fatal(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args[2]))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x80\x04junk")
    window.open_model_file(str(bad))
    qtbot.waitUntil(lambda: bool(shown), timeout=20000)
    assert "bad.onnx" in shown[0] and window.state.model is None


def test_export_to_onnx_from_the_menu_writes_a_model_that_opens(qtbot, window, tiny_models, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args[1:]))
    run = tiny_models["dcgan-run"]
    open_model(qtbot, window, latest_checkpoint(run))
    target = tmp_path / "mine.onnx"
    suggested = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args, **kw: suggested.append(args[2]) or (str(target), ""))
    window.export_onnx()
    qtbot.waitUntil(lambda: "Wrote" in window.statusBar().currentMessage(), timeout=60000)
    assert engine_open(target).info.family == "dcgan" and shown == []
    # the dialog offers a place beside the run, named after it
    assert suggested == [str(run / "dcgan-step-000000002.onnx")]  # the run is named dcgan: not "dcgan-dcgan-…"
    # a place that cannot be written: the user is told that the export failed, not that a model would not open
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / "mine.onnx"
    window.export_onnx()
    qtbot.waitUntil(lambda: bool(shown), timeout=60000)
    assert shown[0][0] == "Cannot export the model" and not target.exists()


def test_a_multi_process_run_starts_as_torchrun_and_reports_back(qtbot, window, tmp_path):
    panel = prepare_training(qtbot, window, tmp_path, steps=4, batch=4, processes=2, sample_every=2,
                             checkpoint_every=2, score_every=2, cuda_graphs=True)
    events = []
    panel.start()
    panel.run.event.connect(events.append)
    assert not panel.pause_button.isEnabled()
    wait_until_ended(qtbot, panel)
    finished = [e for e in events if isinstance(e, ev.Finished)]
    assert finished, [getattr(e, "message", e) for e in events if isinstance(e, ev.Failed)]
    assert finished[-1].step == 4 and panel.samples.image is not None
    started = [e for e in events if isinstance(e, ev.Started)]  # as process 0 says it (it said "0 images")
    assert [(e.num_images, e.device, e.step) for e in started] == [(16, "CPU × 2 processes, torchrun", 0)]
    # 4 steps of 4 images in each of the 2 processes (it said "0 images")
    assert finished[-1].images_seen == 32 and "Finished at step 4 (32 images" in panel.status.text()
    assert any(isinstance(e, ev.Progress) for e in events) and panel.checkpoints.count() == 2
    assert panel.plot.scores[0] == [2, 4] and "against training images" in panel.score.text()  # from its log
    # as for a run in the studio's own process: the time left, and the engine's notes (here: no CUDA graphs)
    assert [e.eta_s is not None for e in events if isinstance(e, ev.Progress)] == [False, True]
    notes = [e.message for e in events if isinstance(e, ev.Notice)]
    assert any(n.startswith("CUDA graphs need a single CUDA device; this run spans several processes") for n in notes)
    # resumed, still as two processes: the history is shown once, and the run goes on from it
    panel.steps.setValue(6)
    panel.resume_run(str(tmp_path / "run"))
    assert panel.is_training()
    qtbot.waitUntil(lambda: panel.run is not None and panel.run.resume, timeout=60000)
    panel.run.event.connect(events.append)
    wait_until_ended(qtbot, panel)
    assert [e.step for e in events if isinstance(e, ev.Started)] == [0, 4]  # the second says where it resumed
    assert panel.plot.data["Loss/D"][0] == [2, 4, 6]
    assert [panel.checkpoints.item(i).text().split(" · SWD ")[0] for i in range(panel.checkpoints.count())] == \
        ["step 6", "step 4", "step 2"]


def test_a_run_that_scores_plots_its_swd_which_compare_gives_its_checkpoint_too(qtbot, window, tmp_path):
    panel = prepare_training(qtbot, window, tmp_path, steps=4, batch=4, checkpoint_every=2)
    assert panel.score_every.text() == "never" and panel.score.isHidden()  # off unless asked for
    panel.score_every.setValue(2)
    panel.start()
    wait_until_ended(qtbot, panel)
    steps, swd = panel.plot.scores
    assert steps == [2, 4] and all(v > 0 for v in swd)
    assert panel.plot.getPlotItem().getAxis("right").isVisible()  # the scores' own axis
    assert "SWD (right axis)" in [label.text for _, label in panel.plot.legend.items]
    assert not panel.score.isHidden() and panel.score.text().startswith(f"SWD {swd[-1]:.1f} at step 4, 16 faces")
    # each checkpoint says how it scored, so that the best one can be picked
    best = [" · best" if v == min(swd) else "" for v in swd]
    said = "Its best-scoring checkpoint is step 2" in panel.status.text()  # when it is not the final one
    assert said == (swd[0] < swd[1]), panel.status.text()
    assert [panel.checkpoints.item(i).text() for i in range(2)] == [f"step 4 · SWD {swd[1]:.1f}{best[1]}",
                                                                    f"step 2 · SWD {swd[0]:.1f}{best[0]}"]

    compare = window.compare_panel  # Compare's Score button gives the two checkpoints the same figures
    checkpoints = [str(tmp_path / "run" / "checkpoints" / f"step-00000000{s}.pt") for s in steps]
    compare.add_paths(checkpoints)
    qtbot.waitUntil(lambda: all(p in window.state.models for p in checkpoints), timeout=30000)
    compare.set_checked(checkpoints)
    qtbot.waitUntil(lambda: len(compare.shown) == 2, timeout=30000)
    compare.score()
    qtbot.waitUntil(lambda: len(compare.scores) == 2 and not compare._score_thread.is_alive(), timeout=60000)
    assert [compare.scores[p]["SWD"] for p in checkpoints] == pytest.approx(swd, rel=1e-6)

    panel._on_event(ev.Scoring(step=6, n=16))  # while a score is taken, the line says so
    assert panel.score.text() == "Scoring the faces of step 6 (16 of them) …"
    shown = f"SWD {swd[-1]:.1f} at step 4, 16 faces against training images (lower is better)"
    panel._on_event(ev.Finished(step=6, images_seen=96, elapsed_s=1.0, stopped=True))  # a stop cut it short
    assert panel.score.text() == shown  # the newest score taken is shown again

    # resumed in a new session of the studio, the scores so far are shown again; with scoring off, none is added
    panel.plot.clear_curves()
    assert not panel.plot.getPlotItem().getAxis("right").isVisible()
    panel.score_every.setValue(0)
    panel.steps.setValue(6)
    panel.resume_run(str(tmp_path / "run"))
    wait_until_ended(qtbot, panel)
    assert panel.plot.scores == (steps, swd) and panel.plot.data["Loss/D"][0][-1] == 6
    assert panel.score.text().startswith(f"SWD {swd[-1]:.1f} at step 4")


def test_gpu_speed_options_apply_only_to_a_run_on_a_cuda_gpu(qtbot, window, tmp_path):
    panel = prepare_training(qtbot, window, tmp_path, steps=4, batch=4)
    qtbot.waitUntil(lambda: panel.gpus is not None, timeout=60000)  # the studio's device probe has reported
    assert not panel.config().cuda_graphs and panel.config().precision == "fp32"
    panel.cuda_graphs.setChecked(True)
    panel.bf16.setChecked(True)
    # The device is the CPU here: both options are greyed out, say why, and a run would not use them.
    assert not panel.cuda_graphs.isEnabled() and not panel.bf16.isEnabled()
    assert "Unavailable: the device is set to cpu" in panel.cuda_graphs.toolTip()
    config = panel.config()
    assert not config.cuda_graphs and config.precision == "fp32"
    # As on a machine with one GPU (reported by the probe), with the device on auto: both reach the run.
    panel.set_gpu_count(1)
    panel.device.setCurrentText("auto")
    assert panel.cuda_graphs.isEnabled() and panel.bf16.isEnabled()
    config = panel.config()
    assert config.cuda_graphs and config.precision == "bf16"
    # Several processes: graphs are single-process only; bf16 still applies.
    panel.processes.setValue(2)
    assert not panel.cuda_graphs.isEnabled() and panel.bf16.isEnabled()
    assert "single process" in panel.cuda_graphs.toolTip()
    assert not panel.config().cuda_graphs and panel.config().precision == "bf16"
    # No GPU on this machine: greyed out whatever the device says.
    panel.processes.setValue(1)
    panel.set_gpu_count(0)
    assert not panel.cuda_graphs.isEnabled() and "no CUDA GPU" in panel.bf16.toolTip()


def test_a_run_on_a_gpu_this_machine_lacks_says_so_plainly(qtbot, window, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    panel = prepare_training(qtbot, window, tmp_path, steps=4, batch=4)
    panel.device.setCurrentText("cuda")
    panel.start()
    wait_until_ended(qtbot, panel)
    assert panel.status.text() == ("<b>Training failed:</b> device cuda was asked for, but no CUDA GPU is available "
                                   "here; use cpu or auto")  # not "ValueError: --device cuda …", a CLI's words
    assert panel.start_button.isEnabled() and not (tmp_path / "run" / "checkpoints").exists()


def test_switching_models_and_closing_during_training_and_export_leaves_nothing_running(qtbot, window, tiny_models,
                                                                                         tmp_path):
    panel = prepare_training(qtbot, window, tmp_path, steps=100_000, batch=4, sample_every=5)
    panel.start()
    qtbot.waitUntil(lambda: panel.samples.image is not None, timeout=30000)
    for _ in range(2):  # switch models back and forth while training runs
        for key in ("dcgan", "stylegan2"):
            open_model(qtbot, window, tiny_models[key])
    window.interpolate_panel.frames.setValue(400)
    window.interpolate_panel.set_seeds([1, 2])
    window.interpolate_panel.export(str(tmp_path / "long.gif"))
    window.shutdown()  # what closing the window does after the user confirms
    assert not panel.is_training() and not window.interpolate_panel.exporting()
    checkpoint = latest_checkpoint(tmp_path / "run")
    assert checkpoint is not None and engine_open(tmp_path / "run").generate([0]).shape == (1, 3, 32, 32)
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".long.gif")]
    assert leftovers == []  # a cancelled export leaves no half-written file


def test_a_resumed_run_shows_its_history_and_carries_on_without_repeating_steps(qtbot, window, tmp_path):
    panel = prepare_training(qtbot, window, tmp_path, steps=6, batch=4, log_every=1, sample_every=3,
                             checkpoint_every=3)
    panel.start()
    wait_until_ended(qtbot, panel)
    run = tmp_path / "run"
    last_grid = np.asarray(Image.open(sorted((run / "samples").glob("step-*.png"))[-1]).convert("RGB"))

    panel.plot.clear_curves()  # as a new session of the studio would start
    panel.checkpoints.clear()
    panel.samples.clear_image()
    panel.steps.setValue(9)
    panel.resume_run(str(run))  # reads the checkpoint in the background, then starts
    assert panel.is_training() and not panel.start_button.isEnabled()
    # as the run starts, the panel shows where it stands
    qtbot.waitUntil(lambda: "Loss/D" in panel.plot.data, timeout=120000)
    assert panel.plot.data["Loss/D"][0][:6] == [1, 2, 3, 4, 5, 6]
    assert np.array_equal(panel.samples.image, last_grid)
    wait_until_ended(qtbot, panel)
    assert panel.plot.data["Loss/G"][0] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert [panel.checkpoints.item(i).text() for i in range(panel.checkpoints.count())] == \
        ["step 9", "step 6", "step 3"]

    panel.resume_run(str(tmp_path))  # a folder with no run in it
    qtbot.waitUntil(lambda: "Cannot resume" in panel.status.text(), timeout=120000)
    assert "holds no checkpoint" in panel.status.text()
    assert panel.start_button.isEnabled() and panel.resume_button.isEnabled() and not panel.is_training()


def test_a_run_whose_images_moved_resumes_on_them_where_they_are_now(qtbot, window, tmp_path, monkeypatch):
    panel = prepare_training(qtbot, window, tmp_path, steps=2, batch=4, checkpoint_every=2)
    panel.start()
    wait_until_ended(qtbot, panel)
    run = tmp_path / "run"
    (tmp_path / "faces").rename(tmp_path / "moved")
    asked = []
    answers = iter([False, True])
    monkeypatch.setattr(panel, "ask_resume_on",
                        lambda missing, folder: asked.append((missing, folder)) or next(answers))

    def open_moved(resolution):
        window.dataset_panel.resolution.setValue(resolution)
        window.dataset_panel.load(str(tmp_path / "moved"))
        qtbot.waitUntil(lambda: window.state.dataset.report.folder == str(tmp_path / "moved")
                        and window.state.dataset.resolution == resolution, timeout=20000)

    panel.steps.setValue(4)
    open_moved(64)  # not the run's resolution: nothing to offer
    panel.resume_run(str(run))
    qtbot.waitUntil(lambda: "Cannot resume" in panel.status.text(), timeout=60000)
    assert f"images were in {tmp_path / 'faces'}, which is not there any more" in panel.status.text()
    assert "Open them in Dataset at 32px" in panel.status.text()
    assert asked == [] and panel.resume_button.isEnabled() and not panel.is_training()

    open_moved(32)
    panel.resume_run(str(run))  # declined
    qtbot.waitUntil(lambda: len(asked) == 1 and not panel.is_training(), timeout=60000)
    assert asked == [(str(tmp_path / "faces"), str(tmp_path / "moved"))] and "Cannot resume" in panel.status.text()
    panel.resume_run(str(run))  # accepted: the run goes on, on the images where they are now
    wait_until_ended(qtbot, panel)
    assert "Finished at step 4" in panel.status.text(), panel.status.text()
    assert json.loads((run / "config.json").read_text())["data"] == str(tmp_path / "moved")


def test_a_finished_run_opens_in_generate_and_its_checkpoint_list_holds_only_files_that_exist(qtbot, window, tmp_path):
    panel = prepare_training(qtbot, window, tmp_path, steps=8, batch=4, checkpoint_every=2, keep_checkpoints=2)
    assert not panel.open_generate_button.isEnabled()  # nothing to open yet
    titles = []
    window.windowTitleChanged.connect(titles.append)
    panel.start()
    assert panel.samples.text() == "Samples from fixed seeds appear here every 10 steps"  # until the first grid
    qtbot.waitUntil(lambda: "It is open in Generate." in panel.status.text(), timeout=180000)
    # with no model of the user's own open, the finished run's newest checkpoint is the one in Generate
    run = tmp_path / "run"
    qtbot.waitUntil(lambda: window.state.model is not None, timeout=60000)
    assert window.state.model.info.path == str(latest_checkpoint(run))
    qtbot.waitUntil(lambda: window.generate_panel.grid.count() > 0, timeout=60000)  # its faces are shown
    # the window's title (and task bar entry) followed the run, and now names the open model and the data
    assert any(t.startswith("GAN Studio — ") and "(training, step 2" in t for t in titles)
    assert window.windowTitle() == f"GAN Studio — run/step-000000008.pt · {window.state.dataset_name}"
    # the engine kept the newest two checkpoints; the list shows those, newest first, and nothing deleted
    listed = [panel.checkpoints.item(i).data(Qt.ItemDataRole.UserRole) for i in range(panel.checkpoints.count())]
    assert [p.rsplit("/", 1)[1] for p in listed] == ["step-000000008.pt", "step-000000006.pt"]
    assert all(Path(p).is_file() for p in listed)

    # a second run while the user explores that model leaves it open, and the button opens the new one
    panel.steps.setValue(10)
    panel.resume_run(str(run))
    qtbot.waitUntil(lambda: "Open in Generate shows its faces." in panel.status.text(), timeout=180000)
    assert window.state.model.info.path.endswith("step-000000008.pt")
    panel.open_generate_button.click()
    qtbot.waitUntil(lambda: window.state.model.info.path.endswith("step-000000010.pt"), timeout=60000)
    panel.checkpoints.setCurrentRow(1)  # a chosen older checkpoint opens instead of the newest
    panel.open_generate_button.click()
    qtbot.waitUntil(lambda: window.state.model.info.path.endswith("step-000000008.pt"), timeout=60000)


def test_open_run_folder_shows_the_folder_or_says_it_does_not_exist_yet(qtbot, window, tmp_path, monkeypatch):
    import studio.panels.train

    opened = []
    monkeypatch.setattr(studio.panels.train.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))
    panel = window.train_panel
    panel.out.setText(str(tmp_path / "not-yet"))
    panel.open_folder_button.click()
    assert opened == [] and "does not exist yet" in panel.status.text()
    panel.out.setText(str(tmp_path))
    panel.open_folder_button.click()
    assert opened == [str(tmp_path)]


def test_runs_go_where_the_studio_started_or_home_when_that_cannot_be_written(tmp_path, monkeypatch):
    from studio.panels.train import default_run_folder

    monkeypatch.chdir(tmp_path)
    assert default_run_folder() == str(tmp_path / "runs" / "studio")  # `make run`: the project folder
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(os, "access", lambda path, mode: path != str(tmp_path))  # as / is to a desktop launcher
    assert default_run_folder() == str(tmp_path / "home" / "GAN Studio" / "runs" / "studio")


def test_start_in_a_folder_that_holds_a_run_offers_to_continue_it_or_start_a_new_one(qtbot, window, tmp_path,
                                                                                      monkeypatch):
    from studio.panels.train import next_run_folder

    panel = prepare_training(qtbot, window, tmp_path, steps=2, batch=4, checkpoint_every=2)
    panel.start()
    wait_until_ended(qtbot, panel)
    run = tmp_path / "run"
    first = {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()}
    asked = []
    answers = iter(["cancel", "new"])
    monkeypatch.setattr(panel, "ask_folder_in_use", lambda folder, fresh: asked.append((folder, fresh)) or next(answers))
    panel.start()  # cancelled: nothing starts
    assert not panel.is_training() and asked == [(str(run), str(tmp_path / "run-2"))]
    panel.start()  # a new run, next to the first, which stays as it was
    assert panel.out.text() == str(tmp_path / "run-2")
    wait_until_ended(qtbot, panel)
    assert latest_checkpoint(tmp_path / "run-2") is not None
    assert {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()} == first
    (tmp_path / "run-3").mkdir()  # an empty folder is free; a file of that name is not
    assert next_run_folder(str(tmp_path / "run-2")) == str(tmp_path / "run-3")
    (tmp_path / "run-3" / "notes.txt").write_text("mine")
    assert next_run_folder(str(run)) == str(tmp_path / "run-4")

    # the question itself: its buttons say what each does
    from PySide6.QtWidgets import QApplication, QMessageBox

    from studio.panels.train import TrainPanel

    def answer(text):
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            return QTimer.singleShot(20, lambda: answer(text))
        seen.append([b.text().replace("&", "") for b in box.buttons()])
        next(b for b in box.buttons() if b.text().replace("&", "") == text).click()

    for text, expected in (("Continue it", "continue"), ("New run in run-2", "new"), ("Cancel", "cancel")):
        seen = []
        QTimer.singleShot(20, lambda: answer(text))
        assert TrainPanel.ask_folder_in_use(panel, str(run), str(tmp_path / "run-2")) == expected
        assert {"Continue it", "New run in run-2"} <= set(seen[0])


def test_the_training_form_and_the_exploring_are_remembered_for_the_next_session(qtbot, window, tmp_path):
    from studio.main_window import MainWindow

    panel = window.train_panel
    panel.family.setCurrentText("wgan-gp")
    panel.batch.setValue(48)
    panel.steps.setValue(1234)
    panel.minutes.setValue(2.5)
    panel.lr_g.setValue(0.00033)
    panel.device.setCurrentText("cpu")
    panel.out.setText(str(tmp_path / "my-run"))
    panel.smoothing.setValue(40)
    panel.augment.setChecked(True)
    panel.holdout.setValue(2000)
    window.state.export_folder = str(tmp_path)  # where the last export went
    window.generate_panel.first_seed.setValue(1200)
    window.generate_panel.count.setValue(16)
    window.generate_panel.truncation.setValue(70)
    walk = window.interpolate_panel
    walk.seeds.setText("3, 14, 27")
    walk.method.setCurrentText("lerp in z")
    walk.frames.setValue(90)
    walk.loop.setChecked(True)
    window.style_mix_panel.rows.setText("7, 8")
    window.style_mix_panel.first.setValue(2)  # a custom range of layers
    window.style_mix_panel.last.setValue(5)
    window.compare_panel.truncation.setValue(60)
    window.close()
    again = MainWindow(window.settings)  # the studio started again
    qtbot.addWidget(again)
    form = again.train_panel
    assert (form.family.currentText(), form.batch.value(), form.steps.value(), form.minutes.value()) == \
        ("wgan-gp", 48, 1234, 2.5)
    assert abs(form.lr_g.value() - 0.00033) < 1e-9 and form.lr_d.value() == panel.lr_d.value()
    assert form.device.currentText() == "cpu" and form.out.text() == str(tmp_path / "my-run")
    assert form.smoothing.value() == 40 and form.n_critic.value() == 5 and form.augment.isChecked()
    assert form.holdout.value() == 2000
    assert again.state.export_folder == str(tmp_path)  # the next save dialog opens there
    generate, walk, mix = again.generate_panel, again.interpolate_panel, again.style_mix_panel
    assert (generate.first_seed.value(), generate.count.value(), generate.truncation.label.text()) == \
        (1200, 16, "ψ 0.70")
    assert (walk.seeds.text(), walk.method.currentText(), walk.frames.value(), walk.loop.isChecked()) == \
        ("3, 14, 27", "lerp in z", 90, True)
    assert mix.rows.text() == "7, 8" and (mix.preset.currentText(), mix.first.value(), mix.last.value()) == \
        ("custom", 2, 5)
    mix.preset.setCurrentIndex(1)  # a preset stays one, whatever its layers were
    preset = mix.preset.currentText()
    assert again.compare_panel.truncation.label.text() == "ψ 0.60"
    again.close()
    again.settings.setValue("train/batch", "lots")  # a damaged setting keeps the default
    again.settings.setValue("train/family", "no-such-family")
    third = MainWindow(window.settings)
    qtbot.addWidget(third)
    assert third.train_panel.batch.value() == 64 and third.train_panel.family.currentText() == "dcgan"
    assert third.style_mix_panel.preset.currentText() == preset != "custom"
    third.shutdown()


def test_loss_curves_are_smoothed_with_the_raw_values_behind(qtbot):
    from studio.widgets.loss_plot import LossPlot

    plot = LossPlot(smoothing=0.9)
    qtbot.addWidget(plot)
    rng = np.random.default_rng(0)
    noisy = 1.0 + rng.normal(0, 0.5, 400)
    noisy[200] = float("nan")  # a diverged step, rolled back by the engine
    plot.add_rows([{"step": i + 1, "Loss/D": v, "Speed/img_per_s": 50.0} for i, v in enumerate(noisy)])
    raw, smoothed = plot.curves["Loss/D"]
    assert set(plot.curves) == {"Loss/D"}  # only losses are plotted
    shown = smoothed.getData()[1]
    assert np.isnan(shown[200]) and np.isfinite(shown[201:]).all()  # a gap, not a poisoned average
    assert np.nanstd(shown[50:]) < np.nanstd(noisy[50:]) / 3 and abs(np.nanmean(shown[50:]) - 1.0) < 0.1
    assert abs(shown[0] - noisy[0]) < 1e-9  # no start-up bias towards zero
    assert raw.isVisible() or not plot.isVisible()
    plot.set_smoothing(0.0)
    assert np.array_equal(smoothed.getData()[1], noisy, equal_nan=True) and not raw.isVisible()


def test_the_built_in_demo_opens_its_faces_and_both_shipped_models(qtbot, window, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path / "cache"))  # the demo faces are drawn here, not in ~/.cache
    window.open_demo()
    qtbot.waitUntil(lambda: window.state.dataset is not None and len(window.state.models) == 2, timeout=60000)
    families = sorted(m.info.family for m in window.state.models.values())
    assert families == ["dcgan-tutorial", "stylegan2"]
    assert window.state.model.info.family == "stylegan2"  # the current model can show every panel, style mixing too
    assert window.state.dataset.images.shape[0] >= 256
    qtbot.waitUntil(lambda: len(getattr(window.generate_panel.grid, "faces", [])) > 0, timeout=60000)
    faces = window.generate_panel.grid.faces.astype(float)
    # varied faces, not one face repeated or a flat colour
    assert faces.std(axis=0).mean() > 10 and faces.std(axis=(2, 3)).mean() > 20


def test_a_run_trained_over_the_demo_replaces_the_demo_model_in_generate(qtbot, window, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path / "cache"))
    window.open_demo()
    qtbot.waitUntil(lambda: window.state.dataset is not None and len(window.state.models) == 2, timeout=60000)
    window.state.dataset = None  # the user's own folder comes next
    panel = prepare_training(qtbot, window, tmp_path, steps=2, batch=4)
    alerts = []
    monkeypatch.setattr(QApplication, "alert", lambda widget, msec=0: alerts.append(widget))
    panel.start()
    qtbot.waitUntil(lambda: "It is open in Generate." in panel.status.text(), timeout=180000)
    assert alerts == [window]  # the task bar flashes for a run that ended while the user was elsewhere
    qtbot.waitUntil(lambda: window.state.model.info.path == str(latest_checkpoint(tmp_path / "run")), timeout=60000)
    assert len(window.state.models) == 3  # the demo models stay at hand in Compare


def test_a_stylegan2_run_previews_its_style_mixing_grid_too_and_a_resumed_run_shows_both(qtbot, window, tmp_path):
    panel = prepare_training(qtbot, window, tmp_path, steps=2, batch=4, sample_every=1, grid_size=2)
    assert panel.augment.isChecked() is False and not panel.augment.isEnabled()  # DiffAugment is StyleGAN2's
    panel.family.setCurrentText("stylegan2")
    panel.preset.setCurrentText("tiny")
    panel.augment.setChecked(True)  # a small dataset
    panel.batch.setValue(4)
    panel.extra_settings = {"z_dim": 32, "log_every": 1, "sample_every": 1, "grid_size": 2}
    assert not panel.preview.isVisibleTo(panel)  # one kind of grid: nothing to choose
    panel.start()
    qtbot.waitUntil(lambda: panel.preview_step.text() == "Snapshot at step 2", timeout=120000)
    assert panel.preview.isVisibleTo(panel)
    assert [panel.preview.itemText(i) for i in range(panel.preview.count())] == ["Samples", "Style mixing"]
    faces = panel.samples.image
    assert faces.shape[:2] == (2 * (32 + 2) + 2, 2 * (32 + 2) + 2)  # 2x2 faces from the fixed seeds
    panel.preview.setCurrentIndex(1)
    panel.preview.activated.emit(1)  # as a user's pick does
    mixing = panel.samples.image
    assert mixing.shape[:2] == ((4 + 1) * 32, (6 + 1) * 32)  # 4 rows x 6 columns of mixes, with their sources
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=120000)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["diffaugment"] == "translation,cutout,color"
    panel.family.setCurrentText("dcgan")  # the box is StyleGAN2's alone: another family's run has no DiffAugment
    assert not panel.augment.isEnabled() and panel.config().diffaugment == ""
    panel.family.setCurrentText("stylegan2")
    panel.preset.setCurrentText("tiny")
    panel.batch.setValue(4)

    panel._set_previews(None, {})  # nothing shown, so that what comes next is the run's history
    panel.steps.setValue(3)
    panel.resume_run(str(tmp_path / "run"))
    qtbot.waitUntil(lambda: panel.preview_step.text() == "Snapshot at step 2", timeout=120000)
    # where it stopped: both grids, and the kind the user chose is still the one shown
    assert panel.preview.currentText() == "Style mixing" and np.array_equal(panel.samples.image, mixing)
    panel.preview.setCurrentIndex(0)
    assert np.array_equal(panel.samples.image, faces)
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=120000)


def test_start_up_shows_a_splash_until_the_window_is_up(qtbot, tmp_path, monkeypatch):
    """Importing PyTorch takes seconds on a cold start: something shows at once, and it goes when the window comes."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QSplashScreen

    import studio.main_window
    from studio.app import main

    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path / "cache"))
    made, splash_up_while_loading, splash_up_at_event_loop = [], [], []

    def splashes():
        return [w.isVisible() for w in QApplication.topLevelWidgets() if isinstance(w, QSplashScreen)]

    class PrivateWindow(studio.main_window.MainWindow):
        def __init__(self):
            splash_up_while_loading.append(splashes())
            super().__init__(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
            made.append(self)

    monkeypatch.setattr(studio.main_window, "MainWindow", PrivateWindow)
    # main() returns where it would run the event loop, noting what is on screen then
    monkeypatch.setattr(QApplication, "exec", lambda *args: splash_up_at_event_loop.append(splashes()) or 0)
    try:
        assert main([]) == 0
        assert splash_up_while_loading == [[True]]
        assert splash_up_at_event_loop == [[False]]  # gone once the window is up
        window = made[0]
        assert window.isVisible()
        qtbot.waitUntil(lambda: window.state.model is not None, timeout=60000)  # the demo opened
    finally:
        for window in made:
            dispose(window)


def test_a_finished_run_does_not_keep_its_dataset_in_memory(qtbot, window, tmp_path):
    """A user who trains on one folder, then opens another, should not pay for the first folder's images."""
    import gc
    import weakref

    panel = prepare_training(qtbot, window, tmp_path, steps=2, batch=4)
    first = weakref.ref(window.state.dataset)
    panel.start()
    wait_until_ended(qtbot, panel)
    window.dataset_panel.load(str(faces_folder(tmp_path / "other", n=12, size=32)))
    qtbot.waitUntil(lambda: window.state.dataset is not None and window.state.dataset is not first(), timeout=20000)
    gc.collect()
    assert first() is None


def test_a_runs_snapshots_export_as_a_timelapse_in_the_background_and_the_export_can_be_cancelled(
        qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    import studio.panels.train as train_panel
    from trainers.timelapse import TimelapseCancelled

    panel = prepare_training(qtbot, window, tmp_path, steps=3, batch=4, sample_every=1, grid_size=2)
    offered = []

    def save_dialog(parent, title, path, filters):
        offered.append(Path(path).name)
        return str(tmp_path / "progress.gif"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
    qtbot.mouseClick(panel.timelapse_button, Qt.MouseButton.LeftButton)  # nothing trained yet: said at once
    assert panel.status.text().startswith("No timelapse: ") and "has no snapshot grid" in panel.status.text()
    assert offered == []  # (no file was asked for)
    panel.start()
    wait_until_ended(qtbot, panel)
    qtbot.mouseClick(panel.timelapse_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.status.text().startswith("Wrote"), timeout=30000)
    assert offered == ["dcgan-run-timelapse.gif"]
    assert "3 snapshots, steps 1 to 3" in panel.status.text()
    assert Image.open(tmp_path / "progress.gif").n_frames == 3
    assert panel.timelapse_button.text() == "Timelapse…"

    from tests.helpers import tiny_config
    from trainers.loop import train

    earlier = tmp_path / "earlier"  # a run of another day: its folder in Run folder is enough
    list(train(tiny_config("dcgan-tutorial", faces_folder(tmp_path / "more", n=8, size=32), earlier, steps=2,
                           sample_every=1)))
    panel.out.setText(str(earlier))
    qtbot.mouseClick(panel.timelapse_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.status.text().startswith("Wrote"), timeout=30000)
    assert offered[-1] == "dcgan-tutorial-earlier-timelapse.gif" and "steps 1 to 2" in panel.status.text()

    reading = threading.Event()

    def slow_write(run_dir, path, kind, progress, cancel):  # a long run's hundreds of snapshots
        progress(120, 300)
        reading.set()
        while not cancel():
            time.sleep(0.01)
        raise TimelapseCancelled()

    monkeypatch.setattr(train_panel, "write_timelapse", slow_write)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(tmp_path / "other.gif"), ""))
    qtbot.mouseClick(panel.timelapse_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.status.text() == "Timelapse: 120 of 300 snapshots read …", timeout=10000)
    assert panel.timelapse_button.text() == "Cancel timelapse" and reading.is_set()
    qtbot.mouseClick(panel.timelapse_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.timelapse_button.text() == "Timelapse…", timeout=10000)
    assert panel.status.text() == "Timelapse cancelled; nothing was written."
    assert not (tmp_path / "other.gif").exists()


def test_held_out_images_never_train_and_the_run_scores_its_faces_on_them(qtbot, window, tmp_path, capsys):
    from trainers.cli import main

    panel = prepare_training(qtbot, window, tmp_path, steps=2, batch=4, checkpoint_every=2)  # 16 faces
    assert panel.holdout.text() == "none"
    panel.holdout.setValue(8)
    assert panel.epochs.text() == "= 1.0 epochs"  # 2 steps of 4 images on the 8 that train
    panel.holdout.setValue(16)
    assert panel.epochs.text() == "(Hold out leaves no image to train on)"
    panel.start()
    assert panel.status.text() == "Cannot start: Hold out 16 leaves no image to train on: the dataset has 16"
    assert not panel.is_training()
    panel.holdout.setValue(8)
    panel.score_every.setValue(2)
    panel.start()
    wait_until_ended(qtbot, panel)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["holdout"] == 8
    assert panel.score.text().startswith("SWD ") and "8 faces against held-out images" in panel.score.text()
    # the figure is the one eval gives the checkpoint on the same held-out files
    checkpoint = latest_checkpoint(tmp_path / "run")
    assert main(["eval", str(checkpoint), "--real", str(tmp_path / "faces"), "--real-last", "8", "--n", "512",
                 "--json", str(tmp_path / "eval.json"), "--device", "cpu"]) == 0
    capsys.readouterr()
    scored = json.loads((tmp_path / "eval.json").read_text())["results"][0]
    assert scored["n"] == 8 and scored["SWD"] == pytest.approx(panel.plot.scores[1][-1], rel=1e-6)
    # and the one Compare gives it, which scores on the held-out images too while Hold out is set
    compare = window.compare_panel
    assert compare.score_button.text() == "Score against held-out images (SWD)"
    compare.add_paths([str(checkpoint)])
    qtbot.waitUntil(lambda: str(checkpoint) in window.state.models, timeout=30000)
    compare.set_checked([compare.dataset_path, str(checkpoint)])
    qtbot.waitUntil(lambda: len(compare.shown) == 2, timeout=30000)
    compare.score()
    qtbot.waitUntil(lambda: len(compare.scores) == 2 and not compare.scoring(), timeout=60000)
    assert compare.scores[str(checkpoint)]["SWD"] == pytest.approx(panel.plot.scores[1][-1], rel=1e-6)
    assert compare.message.text().startswith("Scores against the held-out images")
    assert compare.table.item(1, 7).toolTip() == "8 of its images against 8 of the held-out images"
    panel.holdout.setValue(0)
    assert compare.score_button.text() == "Score against the dataset (SWD)"
    panel.steps.setValue(4)  # resumed, the run keeps its own held-out images, and the form shows them again
    panel.resume_run(str(tmp_path / "run"))
    wait_until_ended(qtbot, panel)
    assert panel.holdout.value() == 8 and compare.score_button.text() == "Score against held-out images (SWD)"
    assert "8 faces against held-out images" in panel.score.text()


def test_the_steps_field_says_how_many_epochs_of_the_open_dataset_they_make(qtbot, window, tmp_path):
    panel = prepare_training(qtbot, window, tmp_path, steps=10, batch=8)  # 16 faces
    assert panel.epochs.text() == "= 5.0 epochs"
    panel.family.setCurrentText("wgan-gp")  # 5 critic steps a generator step, each on its own batch
    panel.batch.setValue(8)
    panel.steps.setValue(10)
    assert panel.n_critic.value() == 5 and panel.epochs.text() == "= 25.0 epochs"
    panel.steps.setValue(1)
    panel.n_critic.setValue(1)
    assert panel.epochs.text() == "= 0.5 of an epoch"
    window.dataset_panel.load(str(faces_folder(tmp_path / "more", n=32, size=32)))
    qtbot.waitUntil(lambda: panel.epochs.text() == "= 0.25 of an epoch", timeout=20000)


def test_models_and_image_folders_dropped_on_compare_join_its_list(qtbot, window, tiny_models, tmp_path):
    window.tabs.setCurrentWidget(window.compare_panel)
    images = faces_folder(tmp_path, n=6, size=32)
    drop_folder(window, tiny_models["dcgan"], tiny_models["stylegan2"], images)  # several at once
    compare = window.compare_panel
    qtbot.waitUntil(lambda: compare.models.count() == 3, timeout=30000)
    paths = {compare.models.item(i).data(Qt.ItemDataRole.UserRole) for i in range(3)}
    assert paths == {str(tiny_models["dcgan"]), str(tiny_models["stylegan2"]), str(images)}
    assert window.state.dataset is None and window.state.model is None  # nothing opened elsewhere
    assert window.tabs.currentWidget() is compare


def test_find_duplicates_lists_the_copies_in_the_report_and_can_be_cancelled(qtbot, window, tmp_path, monkeypatch):
    import shutil

    from PySide6.QtWidgets import QFileDialog

    import studio.panels.dataset

    data = faces_folder(tmp_path, n=12, size=32)
    first = sorted(data.iterdir())[3]
    shutil.copy(first, data / "zz-copy.png")
    panel = window.dataset_panel
    assert not panel.duplicates_button.isEnabled()  # nothing open yet
    panel.resolution.setValue(32)
    panel.load(str(data))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20000)
    panel.duplicates_button.click()
    qtbot.waitUntil(lambda: panel.duplicates is not None and panel.duplicates_button.isEnabled(), timeout=20000)
    assert [(a, b) for a, b, _, _ in panel.duplicates] == [(first.name, "zz-copy.png")]
    assert "<b>1 image is a copy of another</b>" in panel.summary.text() and "13 images" in panel.summary.text()
    rows = [(panel.report.topLevelItem(i).text(0), panel.report.topLevelItem(i).text(1))
            for i in range(panel.report.topLevelItemCount())]
    assert rows == [("zz-copy.png", f"a copy of {first.name} (0.000 apart)")] and panel.report.isVisible()
    assert not panel.report.topLevelItem(0).icon(0).isNull() and not panel.report.topLevelItem(0).icon(1).isNull()
    panel.report.itemDoubleClicked.emit(panel.report.topLevelItem(0), 0)  # the two, side by side
    view = panel._pair_dialog.view
    assert view.image.shape == (3, 32, 32 + 2 + 32)
    assert np.array_equal(view.image[:, :, :32], view.image[:, :, -32:])  # the same picture twice
    assert view.describe(5, 5) == first.name and view.describe(40, 5) == "zz-copy.png"

    def slow(images, cancel=None, progress=None):  # a search through a large dataset, stopped from the panel
        for step in range(200):
            if cancel():
                raise InterruptedError("cancelled")
            progress(step, 200)
            time.sleep(0.05)
        return []

    monkeypatch.setattr(studio.panels.dataset, "duplicate_pairs", slow)
    panel.duplicates_button.click()
    qtbot.waitUntil(lambda: panel.progress.maximum() == 200, timeout=5000)
    assert panel.cancel_button.isVisible() and not panel.duplicates_button.isEnabled()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel.summary.text().endswith("Looking for duplicates was cancelled."), timeout=5000)
    assert not panel.progress.isVisible() and panel.duplicates_button.isEnabled()
    assert "<b>1 image is a copy" not in panel.summary.text()  # the summary as it was, and what happened
    assert panel.report.topLevelItemCount() == 0  # the earlier findings made way for the search that stopped

    # Near twins by the million (video frames): the closest pairs are listed, and the rest are counted
    monkeypatch.setattr(studio.panels.dataset, "LISTED_PAIRS", 5)
    monkeypatch.setattr(studio.panels.dataset, "duplicate_pairs",
                        lambda images, cancel=None, progress=None: [(0, j, j / 100, False) for j in range(1, 13)])
    panel.duplicates_button.click()
    qtbot.waitUntil(lambda: panel.duplicates is not None and panel.duplicates_button.isEnabled(), timeout=5000)
    assert len(panel.duplicates) == 12 and panel.report.topLevelItemCount() == 6
    last = panel.report.topLevelItem(5)
    assert (last.text(0), last.text(1)) == ("… and 7 more pairs", "farther apart; right-click > Save the report as "
                                            f"CSV… writes them all, as does `python -m trainers duplicates {data}`")
    panel.report.itemDoubleClicked.emit(last, 0)  # no pair to show: nothing happens

    # the report as CSV (right-click): every pair, also those not listed
    save = {action.text(): action for action in panel.report.actions()}["Save the report as CSV…"]
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda parent, title, start, filters: (str(tmp_path / "report.csv"), filters))
    save.trigger()
    qtbot.waitUntil(lambda: "Saved the report (12 rows)" in panel.summary.text(), timeout=5000)
    lines = (tmp_path / "report.csv").read_text().splitlines()
    assert lines[0] == "file,what,of,distance,mirrored" and len(lines) == 13
    paths = window.state.dataset.paths
    assert lines[12] == f"{paths[12]},a copy,{paths[0]},0.1200,no"


def test_a_face_edited_along_the_models_directions_is_drawn_saved_and_walked_through(qtbot, window, tiny_models,
                                                                                       tmp_path):
    from trainers import directions as dirs
    from trainers.explore import found_face, styles_of

    model = open_model(qtbot, window, tiny_models["stylegan2"])
    panel = window.generate_panel
    panel.first_seed.setValue(20)
    panel.count.setValue(6)
    panel.truncation.setValue(60)
    qtbot.waitUntil(lambda: panel.seeds == list(range(20, 26)) and panel.rendered_truncation == 0.6, timeout=20000)
    panel.edit_button.click()
    assert panel.status.text() == "Select a face to edit"
    panel.grid.item(2).setSelected(True)
    {action.text(): action for action in panel.grid.actions()}["Edit face…"].trigger()
    dialog = panel._dialogs[-1]
    assert dialog.windowTitle().startswith("Edit seed 22, truncation 0.6")
    assert not dialog.save_button.isEnabled() and not dialog.sliders[0].isEnabled()
    qtbot.waitUntil(dialog.ready, timeout=30000)
    assert np.array_equal(dialog.start_view.image, panel.grid.faces[2])  # the face as Generate shows it
    assert all(s.isEnabled() for s in dialog.sliders) and dialog.labels[0].text().endswith("%)")
    assert not dialog.layers.isHidden()  # StyleGAN2 offers the layers to move

    start = styles_of(model, [22], 0.6)[0]
    dialog.sliders[0].setValue(15)
    assert dialog.values[0].text() == "+1.5"
    expected = model.synthesize(dirs.edited(dialog.directions, start, {0: 1.5})[None])[0]
    qtbot.waitUntil(lambda: not dialog.busy() and np.array_equal(dialog.edited_view.image, expected), timeout=20000)
    assert not np.array_equal(expected, panel.grid.faces[2])
    dialog.layers.setCurrentIndex(1)  # coarse layers only
    coarse = dirs.edited(dialog.directions, start, {0: 1.5}, model.info.layers["coarse"])
    qtbot.waitUntil(lambda: not dialog.busy() and np.array_equal(dialog.edited_view.image,
                                                                   model.synthesize(coarse[None])[0]), timeout=20000)
    saved = dialog.save(str(tmp_path / "edited.png"))
    record = found_face(saved)
    assert record.edit == "seed 22, truncation 0.6: direction 1 +1.5 (coarse styles)"
    assert np.array_equal(record.latent, coarse)
    assert np.array_equal(np.asarray(Image.open(saved).convert("RGB")), dialog.edited_view.image.transpose(1, 2, 0))
    dialog.walk_button.click()  # a loop on Interpolate from the face to its edit and back
    walk = window.interpolate_panel
    assert window.tabs.currentWidget() is walk and walk.loop.isChecked()
    assert walk.seeds.text() == "[seed 22], [edited]" and walk.truncation.psi() == 1.0
    from studio.state import SavedFaces

    kept = SavedFaces.recalled(walk.remembered_faces())  # (the next session has this walk too, without files)
    assert kept.text == walk.seeds.text() and all(np.array_equal(a, b) for a, b in zip(kept.keys, walk._found.keys))
    qtbot.waitUntil(lambda: len(walk.walk_seeds) == 2, timeout=20000)
    for frame, face in ((0, panel.grid.faces[2]), (walk.frames.value() // 2, dialog.edited_view.image)):
        walk.scrub.setValue(frame)
        qtbot.waitUntil(lambda: walk.view.image is not None and np.array_equal(walk.view.image, face), timeout=20000)
    window.tabs.setCurrentWidget(panel)
    dialog.reset()
    qtbot.waitUntil(lambda: not dialog.busy() and np.array_equal(dialog.edited_view.image, panel.grid.faces[2]),
                    timeout=20000)
    dialog.walk_button.click()
    assert dialog.message.text().startswith("Move a slider first") and window.tabs.currentWidget() is panel
    again = panel.edit_face()  # the model's directions were found once: the next window has them at once
    assert again.start_job.known is dialog.directions
    qtbot.waitUntil(again.ready, timeout=20000)

    # The edited face, dropped on Interpolate with a seed's face, is walked through.
    save_png(tmp_path / "seed-7.png", model.generate([7])[0].transpose(1, 2, 0),
             {"seed": "7", "model": str(tiny_models["stylegan2"]), "family": "stylegan2", "software": "GAN Studio"})
    window.tabs.setCurrentWidget(walk)
    drop_folder(window, tmp_path / "edited.png", tmp_path / "seed-7.png")
    qtbot.waitUntil(lambda: len(walk.walk_seeds) == 2, timeout=20000)
    assert walk.seeds.text() == "[edited.png], 7" and walk.method.currentText() == "lerp in w"
    walk.truncation.set_psi(1.0)
    qtbot.waitUntil(lambda: walk.psi == 1.0, timeout=20000)
    walk.scrub.setValue(0)
    qtbot.waitUntil(lambda: walk.view.image is not None and np.array_equal(walk.view.image,
                                                                         model.synthesize(coarse[None])[0]),
                    timeout=20000)


def test_saved_faces_dropped_on_interpolate_and_style_mixing_come_back_in_the_next_session(qtbot, window,
                                                                                             tiny_models, tmp_path):
    from studio.main_window import MainWindow
    from trainers import projection
    from trainers.inference import open_model as engine_model

    model = engine_model(tiny_models["stylegan2"])
    faces = {}
    for name, seed in (("a", 101), ("b", 202)):
        found = projection.find_face(model, model.generate([seed])[0], steps=2, search=4)
        faces[name] = found.face
        save_png(tmp_path / f"{name}-found.png", found.face.transpose(1, 2, 0),
                 latent_metadata(model, "w", found.key, str(tmp_path / f"{name}.png")))
    save_png(tmp_path / "seed-7.png", model.generate([7])[0].transpose(1, 2, 0),
             {"seed": "7", "model": str(tiny_models["stylegan2"]), "family": "stylegan2", "software": "GAN Studio"})
    window.tabs.setCurrentWidget(window.interpolate_panel)
    drop_folder(window, *(tmp_path / f for f in ("a-found.png", "seed-7.png", "b-found.png")))
    window.tabs.setCurrentWidget(window.style_mix_panel)  # (at once, while their model opens: both are kept)
    drop_folder(window, tmp_path / "b-found.png", tmp_path / "a-found.png")
    qtbot.waitUntil(lambda: window.style_mix_panel.mixed is not None and len(window.interpolate_panel.walk_seeds) == 3,
                    timeout=20000)
    window.close()

    again = MainWindow(window.settings)  # the studio started again, its last model opening
    walk, mix = again.interpolate_panel, again.style_mix_panel
    assert walk.seeds.text() == "[a-found.png], 7, [b-found.png]" and mix.rows.text() == "[b-found.png], [a-found.png]"
    again.open_model_file(str(tiny_models["stylegan2"]))
    qtbot.waitUntil(lambda: len(walk.walk_seeds) == 3 and mix.mixed is not None, timeout=20000)
    assert walk.message.text() in ("", "Faces found for pictures or edited are walked in w")
    walk.truncation.set_psi(1.0)
    qtbot.waitUntil(lambda: walk.psi == 1.0, timeout=20000)
    walk.scrub.setValue(walk.scrub.maximum())  # the walk ends on b's face, as before
    qtbot.waitUntil(lambda: walk.view.image is not None and np.array_equal(walk.view.image, faces["b"]),
                    timeout=20000)
    assert np.array_equal(mix.mixed[1, 1], faces["a"])  # a's styles over a's own face
    again.close()
    dispose(again)

    from studio.state import SavedFaces

    for garbled in ("{not json", '{"text": 1}', '{"text": "[a]", "model": "m", "faces": [{"label": "a", '
                    '"latent": "!!", "shape": [3]}]}'):  # settings edited by hand, or from another version: nothing
        assert SavedFaces.recalled(garbled) == ""
    (tmp_path / "b-found.png").unlink()  # a face's file gone: the next session says which, and where it was
    third = MainWindow(window.settings)
    third.open_model_file(str(tiny_models["stylegan2"]))
    qtbot.waitUntil(lambda: third.state.model is not None, timeout=20000)
    qtbot.waitUntil(lambda: third.interpolate_panel.message.text() != "", timeout=20000)
    assert third.interpolate_panel.message.text() == (f"b-found.png is no longer at {tmp_path / 'b-found.png'}: drop "
                                                      "the saved faces on this tab again")
    dispose(third)
