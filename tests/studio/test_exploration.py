"""Interpolation, style mixing and comparison panels on tiny models."""

import time
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from tests.studio.conftest import open_model
from trainers.checkpoint import latest_checkpoint


def test_interpolation_gif_has_the_requested_frames_and_ends_on_the_endpoint_faces(qtbot, window, tiny_models, tmp_path):
    model = open_model(qtbot, window, tiny_models["stylegan2"])
    panel = window.interpolate_panel
    panel.scale.setValue(1)
    panel.frames.setValue(9)
    for method in ("slerp in z", "lerp in w"):
        panel.method.setCurrentText(method)
        panel.set_seeds([5, 9])
        out = tmp_path / f"walk-{method[-1]}.gif"
        panel.export(str(out))
        qtbot.waitUntil(lambda: not panel.exporting(), timeout=30000)
        assert out.is_file(), panel.message.text()
        gif = Image.open(out)
        assert gif.n_frames == 9
        ends = model.generate([5, 9])
        gif.seek(0)
        first = np.asarray(gif.convert("RGB"))
        gif.seek(8)
        last = np.asarray(gif.convert("RGB"))
        # GIF keeps 256 colours: compare within the palette's rounding.
        assert np.abs(first.astype(int) - ends[0].transpose(1, 2, 0)).mean() < 6
        assert np.abs(last.astype(int) - ends[1].transpose(1, 2, 0)).mean() < 6
        assert np.abs(last.astype(int) - ends[0].transpose(1, 2, 0)).mean() > np.abs(
            last.astype(int) - ends[1].transpose(1, 2, 0)).mean()


def test_mp4_and_png_sequence_exports(qtbot, window, tiny_models, tmp_path):
    import imageio.v2 as imageio

    open_model(qtbot, window, tiny_models["dcgan"])
    panel = window.interpolate_panel
    panel.frames.setValue(12)
    panel.set_seeds([1, 2, 3])
    panel.export(str(tmp_path / "walk.mp4"))
    qtbot.waitUntil(lambda: not panel.exporting(), timeout=60000)
    assert imageio.get_reader(tmp_path / "walk.mp4").count_frames() == 12, panel.message.text()
    panel.export(str(tmp_path / "frames"))
    qtbot.waitUntil(lambda: not panel.exporting(), timeout=60000)
    first_walk = {f.name: f.read_bytes() for f in (tmp_path / "frames").glob("frame-*.png")}
    assert len(first_walk) == 12
    # A shorter walk into the same folder would leave the old walk's tail in the sequence: it is refused,
    # and the first walk's frames stay as they were.
    panel.frames.setValue(5)
    panel.export(str(tmp_path / "frames"))
    qtbot.waitUntil(lambda: "already holds 12 frames" in panel.message.text(), timeout=60000)
    assert {f.name: f.read_bytes() for f in (tmp_path / "frames").glob("frame-*.png")} == first_walk


def test_scrubbing_renders_off_the_gui_thread(qtbot, window, tiny_models):
    open_model(qtbot, window, tiny_models["stylegan2"])
    panel = window.interpolate_panel
    panel.frames.setValue(200)
    panel.set_seeds([1, 2])
    qtbot.waitUntil(lambda: len(panel.latents) == 200, timeout=30000)  # the walk is made in the background
    slowest = 0.0
    for value in range(0, 200, 5):
        start = time.perf_counter()
        panel.scrub.setValue(value)  # what a dragged slider does
        slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 0.05  # the slider handler only queues work
    expected = panel.state.model.generate(z=panel.latents[195:196])[0]
    # the view ends on the last position asked for
    qtbot.waitUntil(lambda: panel.view.image is not None and np.array_equal(panel.view.image, expected),
                    timeout=30000)


def test_play_runs_the_walk_at_its_timing_pause_holds_a_frame_and_a_new_path_plays_at_once(qtbot, window,
                                                                                            tiny_models):
    model = open_model(qtbot, window, tiny_models["stylegan2"])
    panel = window.interpolate_panel
    panel.frames.setValue(8)
    panel.seconds.setValue(0.4)
    panel.set_seeds([3, 4])
    shown = []
    panel.scrub.valueChanged.connect(shown.append)
    panel.play_button.click()
    assert panel.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: len(set(shown)) == 8, timeout=20000)  # every frame, then round again
    assert panel.timer.interval() == 50  # 8 frames in 0.4 s, as exported

    panel.play_button.click()
    assert panel.play_button.text() == "Play"
    held = panel.scrub.value()
    qtbot.wait(200)
    assert panel.scrub.value() == held
    expected = model.generate(z=panel.latents[held : held + 1])[0].transpose(1, 2, 0)
    assert np.abs(panel.view.image.astype(int) - expected).max() <= 1  # the frame at the slider

    panel.strip.itemClicked.emit(panel.strip.item(panel.strip.count() - 1))  # a click on the strip's last frame
    assert panel.scrub.value() == 7 and panel.frame_label.text() == "frame 8 / 8"

    panel.play_button.click()
    panel.set_seeds([5, 6, 7])  # a new walk while playing: rendered and played without another click
    shown.clear()
    qtbot.waitUntil(lambda: len(set(shown)) == 8, timeout=20000)
    first_of_new = model.generate([5])[0].transpose(1, 2, 0)
    qtbot.waitUntil(lambda: panel.scrub.value() == 0, timeout=5000)
    assert np.abs(panel.view.image.astype(int) - first_of_new).max() <= 1
    panel.play_button.click()


def test_style_mixing_grid_shape_and_a_row_mixed_with_itself(qtbot, window, tiny_models):
    model = open_model(qtbot, window, tiny_models["stylegan2"])
    panel = window.style_mix_panel
    panel.rows.setText("3, 4")
    panel.columns.setText("3, 7, 8")
    panel.preset.setCurrentText("middle (16-32 px)")
    panel.update_grid()
    qtbot.waitUntil(lambda: panel.mixed is not None and panel.mixed.shape[:2] == (2, 3), timeout=20000)
    assert panel.layers() == model.info.layers["middle"]
    assert panel.figure.shape == (3 * 32, 4 * 32, 3)
    face3 = model.generate([3])[0]
    assert np.array_equal(panel.mixed[0, 0], face3)  # row 3 over column 3 is face 3
    assert not np.array_equal(panel.mixed[1, 0], face3)  # row 4's middle styles change column 3's face

    before = panel.figure
    panel.random_button.click()  # new seeds, as many rows and columns as before, rendered at once
    rows, cols = panel.rows.text().split(", "), panel.columns.text().split(", ")
    assert len(rows) == 2 and len(cols) == 3 and (rows, cols) != (["3", "4"], ["3", "7", "8"])
    qtbot.waitUntil(lambda: panel.figure is not before, timeout=20000)
    assert panel.figure.shape == before.shape
    assert panel.layers() == model.info.layers["middle"]  # the layers chosen stay
    new_row = model.generate([int(rows[0])])[0]
    assert np.array_equal(panel.figure[32:64, :32], new_row.transpose(1, 2, 0))  # the first row's source face

    shown = panel.figure
    panel.set_seeds(list(range(64)), list(range(64)))  # a saved grid of 64 faces, each over each: too many
    assert panel.unavailable.text() == ("64 rows by 64 columns are 4,096 mixed faces: at most 1,024 at a time "
                                        "(e.g. 32 by 32).")
    qtbot.wait(300)
    assert panel.figure is shown  # the last grid stays, and nothing is rendered


def test_style_mixing_says_why_it_is_unavailable_for_a_dcgan(qtbot, window, tiny_models):
    open_model(qtbot, window, tiny_models["dcgan"])
    assert "needs a StyleGAN2 model" in window.style_mix_panel.unavailable.text()
    assert not window.style_mix_panel.rows.isEnabled()
    window.tabs.setCurrentWidget(window.style_mix_panel)
    assert window.style_mix_panel.unavailable.isVisible()
    open_model(qtbot, window, tiny_models["stylegan2"])
    assert not window.style_mix_panel.unavailable.isVisible()  # no empty line above the controls
    panel = window.style_mix_panel
    qtbot.waitUntil(lambda: panel.view.image is not None, timeout=30000)
    # back to a DCGAN: the StyleGAN2 model's grid goes with it, and there is nothing to save
    open_model(qtbot, window, tiny_models["dcgan"])
    assert panel.view.image is None and panel.figure is None and panel.unavailable.isVisible()


def test_compare_shows_one_row_per_model_on_the_same_seeds(qtbot, window, tiny_models, tmp_path):
    panel = window.compare_panel
    panel.add_paths([str(tiny_models["dcgan"]), str(tiny_models["stylegan2"]), str(tiny_models["dcgan-run"])])
    qtbot.waitUntil(lambda: panel.models.count() == 3, timeout=30000)
    tips = {panel.models.item(i).toolTip() for i in range(3)}  # the whole path of each, which the list cuts
    assert str(tiny_models["dcgan"]) in tips and any(tip.startswith(str(tiny_models["dcgan-run"])) for tip in tips)
    panel.count.setValue(4)
    panel.set_checked(list(window.state.models))
    qtbot.waitUntil(lambda: len(panel.shown) == 3 and panel.table.rowCount() == 3, timeout=30000)
    families = sorted(panel.table.item(r, 1).text() for r in range(3))
    assert families == ["dcgan", "dcgan", "stylegan2"]
    # a run's checkpoint goes by its run folder too: every run has a step-000001000.pt
    names = sorted(panel.table.item(r, 0).text() for r in range(3))
    assert names == ["dcgan.onnx", f"dcgan/{latest_checkpoint(tiny_models['dcgan-run']).name}", "stylegan2.onnx"]
    sheet = panel.sheet
    assert sheet.shape[:2] == (3 * (18 + 32 + 4) + 4, 4 * (32 + 4) + 4)  # three rows of four 32px faces
    # The exported dcgan and its own checkpoint render the same seeds identically, seed by seed along a row.
    onnx_row = panel.shown.index(window.state.models[str(tiny_models["dcgan"])])
    expected = window.state.models[str(tiny_models["dcgan"])].generate([0, 1, 2, 3])
    y = onnx_row * (18 + 32 + 4) + 18 + 4
    for seed in range(4):
        x = 4 + seed * 36
        assert np.array_equal(sheet[y : y + 32, x : x + 32], expected[seed].transpose(1, 2, 0))
    # hovering a face names its model and seed; hovering a caption gives the whole path
    assert panel.describe(x + 16, y + 16) == f"Seed 3 from dcgan.onnx (step {panel.shown[onnx_row].info.step:,})"
    assert panel.describe(x + 16, y - 10).startswith(str(tiny_models["dcgan"]) + "\n")
    assert panel.describe(x + 33, y + 16) == ""  # the gap between two faces
    # truncation: the StyleGAN2 row shows its faces at that psi, as Generate does; the DCGAN rows stay as they were
    panel.truncation.setValue(50)
    qtbot.waitUntil(lambda: panel.sheet_psi == 0.5, timeout=30000)
    assert "StyleGAN2 rows at ψ 0.50" in panel.message.text()
    style = window.state.models[str(tiny_models["stylegan2"])]
    style_row = panel.shown.index(style)
    y_style = style_row * (18 + 32 + 4) + 18 + 4
    truncated = style.generate([0], truncation=0.5)[0].transpose(1, 2, 0)
    assert np.array_equal(panel.sheet[y_style : y_style + 32, 4:36], truncated)
    assert not np.array_equal(truncated, style.generate([0])[0].transpose(1, 2, 0))
    assert np.array_equal(panel.sheet[y : y + 32, x : x + 32], expected[3].transpose(1, 2, 0))
    assert panel.describe(20, y_style + 16) == f"Seed 0 from stylegan2.onnx (step {style.info.step:,}, ψ 0.50)"
    path = panel.save(str(tmp_path / "sheet.png"))
    assert Image.open(path).text["truncation"] == "0.5"
    assert Image.open(path).size == (sheet.shape[1], sheet.shape[0])
    (tmp_path / "a-file").write_text("not a folder")
    assert panel.save(str(tmp_path / "a-file" / "sheet.png")) is None and "Cannot write" in panel.message.text()


def score_both_tiny_models(qtbot, window, tiny_models, tmp_path, resolution):
    """Compare's two tiny 32 px models against 24 demo faces read at `resolution`, scoring started."""
    from tests.helpers import faces_folder

    window.dataset_panel.resolution.setValue(resolution)
    window.dataset_panel.load(str(faces_folder(tmp_path, n=24, size=32)))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20000)
    panel = window.compare_panel
    panel.add_paths([str(tiny_models["dcgan"]), str(tiny_models["stylegan2"])])
    qtbot.waitUntil(lambda: len(window.state.models) == 2, timeout=30000)
    panel.set_checked(list(window.state.models))
    qtbot.waitUntil(lambda: len(panel.shown) == 2, timeout=30000)
    panel.score()
    return panel


def test_compare_says_how_to_score_a_model_of_another_size_than_the_dataset(qtbot, window, tiny_models, tmp_path):
    panel = score_both_tiny_models(qtbot, window, tiny_models, tmp_path, resolution=64)  # the models make 32 px
    qtbot.waitUntil(lambda: len(panel.scores) == 2 and not panel._score_thread.is_alive(), timeout=60000)
    assert [panel.table.item(r, 7).text() for r in range(2)] == ["dataset is 64px"] * 2
    assert "read the dataset at that size (Dataset tab) to score it" in panel.message.text()


def test_compare_scores_models_against_the_dataset_in_the_background(qtbot, window, tiny_models, tmp_path,
                                                                     monkeypatch):
    panel = score_both_tiny_models(qtbot, window, tiny_models, tmp_path, resolution=32)
    # done when the button offers scoring again (the scores arrive a moment before)
    qtbot.waitUntil(lambda: panel.score_button.text() == "Score against the dataset (SWD)", timeout=60000)
    assert len(panel.scores) == 2
    swd_column = [panel.table.item(r, 7).text() for r in range(2)]
    assert all(float(v) > 0 and len(v.split(".")[1]) == 2 for v in swd_column)  # two decimals each: they line up
    assert panel.table.item(0, 7).textAlignment() & Qt.AlignmentFlag.AlignRight
    assert panel.table.item(0, 8).text() == ""  # no Inception weights chosen: no FID

    from tests.helpers import random_inception_weights

    panel.set_inception(str(random_inception_weights(tmp_path / "inception.pth", monkeypatch)))
    assert window.settings.value("inception_weights") == str(tmp_path / "inception.pth")
    assert panel.score_button.text() == "Score against the dataset (SWD, FID, KID)"
    panel.scores.clear()
    panel.score()
    qtbot.waitUntil(lambda: len(panel.scores) == 2 and not panel._score_thread.is_alive(), timeout=120000)
    assert all(float(panel.table.item(r, c).text()) == float(panel.table.item(r, c).text()) for r in range(2)
               for c in (8, 9))  # FID and KID present and not NaN


def test_scoring_shows_which_model_it_is_on_and_can_be_cancelled(qtbot, window, tiny_models, tmp_path,
                                                                  monkeypatch):
    import trainers.metrics
    from tests.helpers import faces_folder

    window.dataset_panel.resolution.setValue(32)
    window.dataset_panel.load(str(faces_folder(tmp_path, n=8, size=32)))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20000)
    def slow_evaluate(real, fake, metrics, inception=None, device="cpu", progress=None):
        for batch in range(400):  # a 20 s score (FID's features on a CPU), reporting after each batch
            progress(batch, 400)
            time.sleep(0.05)
        return {"SWD": 50.0}

    monkeypatch.setattr(trainers.metrics, "evaluate", slow_evaluate)
    panel = window.compare_panel
    panel.add_paths([str(tiny_models["dcgan"]), str(tiny_models["stylegan2"]), str(tiny_models["dcgan-run"])])
    qtbot.waitUntil(lambda: len(window.state.models) == 3, timeout=30000)
    panel.set_checked(list(window.state.models))
    qtbot.waitUntil(lambda: len(panel.shown) == 3, timeout=30000)
    panel.score_button.click()
    qtbot.waitUntil(lambda: "(1 of 3)" in panel.message.text(), timeout=20000)
    assert panel.score_button.text() == "Cancel scoring" and panel.scoring()
    panel.score_button.click()  # cancel: within the model being scored, and the rest are skipped
    assert "Cancelling" in panel.message.text()
    qtbot.waitUntil(lambda: not panel.scoring() and panel.score_button.isEnabled(), timeout=5000)  # not 20 s
    assert panel.scores == {} and "cancelled" in panel.message.text()
    assert panel.score_button.text() == "Score against the dataset (SWD)"


def test_compare_shows_real_images_beside_the_models_and_scores_the_datasets_floor(qtbot, window, tiny_models,
                                                                                   tmp_path):
    from tests.helpers import faces_folder

    window.dataset_panel.resolution.setValue(32)
    data = faces_folder(tmp_path, n=24, size=32)
    window.dataset_panel.load(str(data))
    panel = window.compare_panel
    qtbot.waitUntil(lambda: panel.models.count() == 1, timeout=20000)
    first = panel.models.item(0)  # the open dataset heads the list, unticked
    assert first.toolTip() == str(data) and "the open dataset · 24 at 32px" in first.text()
    assert first.checkState() == Qt.CheckState.Unchecked
    panel.add_paths([str(tiny_models["dcgan"])])
    qtbot.waitUntil(lambda: panel.models.count() == 2, timeout=30000)
    panel.count.setValue(4)
    panel.set_checked([str(data), str(tiny_models["dcgan"])])
    qtbot.waitUntil(lambda: len(panel.shown) == 2, timeout=30000)
    assert panel.table.item(0, 1).text() == "24 images" and panel.table.item(0, 3).text() == ""
    real = panel.image_sets[str(data)]
    y = 18 + 4  # the first row's faces: real ones, a different image per seed, as the hover says
    shown = [panel.sheet[y : y + 32, 4 + i * 36 : 4 + i * 36 + 32] for i in range(4)]
    for seed, face in enumerate(shown):
        assert np.array_equal(face, window.state.dataset.images[real.index(seed)].transpose(1, 2, 0))
    assert len({real.index(seed) for seed in range(4)}) == 4
    assert panel.describe(4 + 16, y + 16) == f"{window.state.dataset.paths[real.index(0)]} from faces (seed 0)"

    panel.score()  # real against real is the floor: far below a model trained for two steps
    qtbot.waitUntil(lambda: len(panel.scores) == 2 and not panel.scoring(), timeout=60000)
    floor, model = panel.scores[str(data)]["SWD"], panel.scores[str(tiny_models["dcgan"])]["SWD"]
    assert 0 < floor < model / 2
    # 24 images: the floor splits them in two halves; the model is scored against all of them
    assert panel.table.item(0, 7).toolTip().startswith(
        "Real against real: 12 of the dataset's images against 12 others")
    assert panel.table.item(1, 7).toolTip() == "24 of its images against 24 of the dataset"
    assert "as low as a model can go" in panel.message.text()

    other = faces_folder(tmp_path / "elsewhere", n=10, size=48)  # read at the dataset's size
    (tmp_path / "not-images").mkdir()
    (tmp_path / "not-images" / "notes.txt").write_text("no faces here")
    panel.add_images(str(tmp_path / "not-images"))
    qtbot.waitUntil(lambda: panel.message.text().startswith("no usable image in"), timeout=20000)
    assert panel.models.count() == 2
    panel.add_images(str(other))
    qtbot.waitUntil(lambda: panel.models.count() == 3, timeout=20000)
    assert "images · 10 at 32px" in panel.models.item(2).text()
    panel.set_checked([str(data), str(other), str(tiny_models["dcgan"])])
    qtbot.waitUntil(lambda: len(panel.shown) == 3, timeout=30000)
    assert panel.sheet.shape[0] == 3 * (18 + 32 + 4) + 4

    # another dataset: its row takes the old one's place; the user's own set stays
    window.dataset_panel.load(str(faces_folder(tmp_path / "next", n=12, size=32)))
    qtbot.waitUntil(lambda: panel.dataset_path == str(tmp_path / "next" / "faces"), timeout=20000)
    rows = [panel.models.item(i).data(Qt.ItemDataRole.UserRole) for i in range(panel.models.count())]
    assert rows[0] == str(tmp_path / "next" / "faces") and str(data) not in rows and str(other) in rows
    assert str(data) not in panel.image_sets and str(data) not in panel.scores


def test_nearest_real_faces_show_beside_each_face_and_a_copy_is_called_one(qtbot, window, tiny_models, tmp_path):
    from tests.helpers import faces_folder

    open_model(qtbot, window, tiny_models["dcgan"])  # 32 px faces
    panel = window.generate_panel
    panel.count.setValue(4)
    qtbot.waitUntil(lambda: panel.seeds == [0, 1, 2, 3], timeout=20000)
    data = faces_folder(tmp_path, n=12, size=32)
    Image.fromarray(panel.grid.faces[2].transpose(1, 2, 0)).save(data / "copy-of-seed-2.png")  # a "memorised" face
    panel.nearest_button.click()
    assert panel.status.text() == "Open a dataset (the Dataset tab) to look for the real faces most like these"
    window.dataset_panel.load(str(data))  # at 64 px, the panel's default: the copy, upscaled, is still found
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20000)
    panel.grid.item(2).setSelected(True)
    panel.nearest_button.click()
    qtbot.waitUntil(lambda: len(panel._dialogs) == 1, timeout=20000)
    assert panel.status.text().startswith("Seed 2 looks like a copy of copy-of-seed-2.png")
    assert panel._dialogs[-1].view.image.shape[:2] == (18 + 64 + 4 + 4, 6 * (64 + 4) + 4)  # shown at 64 px
    assert panel._dialogs[-1].view.describe(4 + 68 + 32, 18 + 4 + 32).startswith("copy-of-seed-2.png: ")
    window.dataset_panel.resolution.setValue(32)
    qtbot.waitUntil(lambda: window.state.dataset.resolution == 32, timeout=20000)
    panel.grid.item(0).setSelected(True)
    panel.grid.item(2).setSelected(True)
    panel.nearest_button.click()
    qtbot.waitUntil(lambda: len(panel._dialogs) == 2, timeout=20000)
    # (this two-step model's faces are all much alike, so seed 0 is close to the copied face too)
    assert panel.status.text().startswith("Seed 2 looks like a copy of copy-of-seed-2.png (0.000 away)")
    view = panel._dialogs[-1].view
    assert view.image.shape[:2] == (2 * (18 + 32 + 4) + 4, 6 * (32 + 4) + 4)  # two rows: the face and 5 real ones
    y = (18 + 32 + 4) + 18 + 4 + 16  # the second row (seed 2), mid-face
    assert view.describe(4 + 16, y) == "Seed 2 from dcgan.onnx"
    assert view.describe(4 + 36 + 16, y) == "copy-of-seed-2.png: 0.000 away from seed 2"
    assert np.array_equal(view.image[y - 16 : y + 16, 40:72], panel.grid.faces[2].transpose(1, 2, 0))
    assert view.describe(4 + 2 * 36 + 16, y).endswith("away from seed 2")  # the next nearest, another file
    assert "copy-of-seed-2" not in view.describe(4 + 2 * 36 + 16, y)
    saved = panel._dialogs[-1].save(str(tmp_path / "near.png"))  # the sheet, as shown
    with Image.open(saved) as png:
        assert np.array_equal(np.asarray(png.convert("RGB")), view.image) and png.text["seeds"] == "0, 2"


def test_faces_selected_in_generate_are_sent_to_interpolate(qtbot, window, tiny_models):
    open_model(qtbot, window, tiny_models["stylegan2"])
    panel = window.generate_panel
    panel.first_seed.setValue(20)
    panel.count.setValue(6)
    panel.truncation.setValue(60)
    qtbot.waitUntil(lambda: panel.seeds == list(range(20, 26)) and panel.rendered_truncation == 0.6, timeout=20000)
    panel.grid.item(1).setSelected(True)
    panel.mix_button.click()  # one face is not enough
    assert panel.status.text() == "Select two or more faces to mix their styles"
    assert window.tabs.currentWidget() is not window.style_mix_panel
    panel.grid.item(4).setSelected(True)
    panel.send_button.click()
    walk = window.interpolate_panel
    assert window.tabs.currentWidget() is walk
    assert walk.seeds.text() == "21, 24" and walk.truncation.label.text() == "ψ 0.60"  # as the faces were seen
    qtbot.waitUntil(lambda: walk.walk_seeds == [21, 24], timeout=20000)  # the walk is made in the background
    walk.scrub.setValue(walk.scrub.maximum())
    qtbot.waitUntil(lambda: walk.view.image is not None and walk.frame_label.text().startswith("frame 60"),
                    timeout=20000)
    qtbot.waitUntil(lambda: np.array_equal(walk.view.image, panel.grid.faces[4]), timeout=20000)  # ends on seed 24

    window.tabs.setCurrentWidget(panel)
    menu = {action.text(): action for action in panel.grid.actions()}  # the faces' right-click menu
    menu["Copy seeds"].trigger()
    from PySide6.QtWidgets import QApplication
    assert QApplication.clipboard().text() == "21, 24"
    menu["Style-mix selected"].trigger()  # each face's styles over the other's
    mix = window.style_mix_panel
    assert window.tabs.currentWidget() is mix
    assert mix.rows.text() == "21, 24" and mix.columns.text() == "21, 24"
    qtbot.waitUntil(lambda: mix.mixed is not None and mix.mixed.shape[:2] == (2, 2), timeout=20000)
    assert np.array_equal(mix.mixed[0, 0], panel.grid.faces[1])  # a face mixed with itself is itself


def test_style_mixing_from_generate_is_offered_only_for_stylegan2(qtbot, window, tiny_models):
    open_model(qtbot, window, tiny_models["dcgan"])
    panel = window.generate_panel
    assert panel.send_button.isEnabled() and not panel.mix_button.isEnabled()
    assert not panel.truncation.isEnabled() and not window.interpolate_panel.truncation.isEnabled()  # StyleGAN2's
    assert not {a.text(): a for a in panel.grid.actions()}["Style-mix selected"].isEnabled()


def test_a_dcgan_face_is_edited_in_z(qtbot, window, tiny_models):
    from trainers import directions as dirs

    model = open_model(qtbot, window, tiny_models["dcgan"])
    panel = window.generate_panel
    qtbot.waitUntil(lambda: len(panel.seeds) > 3, timeout=20000)
    panel.grid.item(3).setSelected(True)
    dialog = panel.edit_face()
    qtbot.waitUntil(dialog.ready, timeout=30000)
    assert dialog.layers.isHidden() and dialog.directions.space == "z"  # no styles: no layers to choose
    dialog.sliders[2].setValue(-20)
    z = dirs.edited(dialog.directions, model.latents([panel.seeds[3]])[0], {2: -2.0})
    qtbot.waitUntil(lambda: not dialog.busy() and np.array_equal(dialog.edited_view.image,
                                                                   model.generate(z=z[None])[0]), timeout=20000)


def test_an_image_view_fills_the_space_it_is_given(qtbot):
    from studio.widgets.faces import ImageView

    view = ImageView()
    qtbot.addWidget(view)
    view.show()
    sheet = np.zeros((50, 100, 3), np.uint8)
    sheet[:, ::2] = 255  # one-pixel stripes: crisp only at a whole-number zoom
    view.set_image(sheet)
    view.resize(400, 200)  # room for exactly 4x: whole pixels, nothing lost
    assert view.pixmap().size().toTuple() == (400, 200)
    view.resize(300, 180)  # 3x fits and fills most of the view: still whole pixels
    assert view.pixmap().size().toTuple() == (300, 150)
    view.resize(190, 95)  # 1.9x: a 1x image would leave most of the view empty, so it is scaled to fit
    assert view.pixmap().size().toTuple() == (190, 95)
    view.resize(80, 80)  # smaller than the image: scaled down, keeping its shape
    assert view.pixmap().size().toTuple() == (80, 40)


def test_an_enlarged_face_shows_its_pixels_or_smooth_scaling(qtbot):
    from studio.widgets.faces import show_enlarged

    def colours(view):  # the distinct grey levels on screen
        image = view.pixmap().toImage()
        return {image.pixelColor(x, 10).red() for x in range(image.width())}

    face = np.zeros((3, 8, 8), np.uint8)
    face[:, :, ::2] = 255  # one-pixel stripes
    dialog = show_enlarged(None, face, "seed 1")
    qtbot.addWidget(dialog)
    dialog.resize(300, 330)
    qtbot.waitUntil(lambda: dialog.view.pixmap().width() >= 200)
    assert colours(dialog.view) == {0, 255}  # whole pixels, as generated
    dialog.smooth.setChecked(True)
    assert len(colours(dialog.view)) > 2  # blended edges
    assert dialog.view.smooth_action in dialog.view.actions()  # the same choice on its right-click menu
    dialog.view.smooth_action.setChecked(False)
    assert not dialog.smooth.isChecked() and colours(dialog.view) == {0, 255}


def test_save_dialogs_name_what_they_save_and_open_where_the_last_save_went(qtbot, window, tiny_models, tmp_path,
                                                                             monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    offered, chosen = [], tmp_path / "my exports"
    chosen.mkdir()

    def save_dialog(parent, title, start, filters):
        offered.append(start)
        return str(chosen / Path(start).name), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
    open_model(qtbot, window, tiny_models["stylegan2"])
    generate = window.generate_panel
    generate.count.setValue(4)
    qtbot.waitUntil(lambda: len(generate.seeds) == 4, timeout=20000)
    saved = generate.save_grid_png()
    assert Path(saved).name == f"stylegan2-seeds{generate.seeds[0]}-{generate.seeds[-1]}.png"
    assert Path(saved).is_file() and Path(offered[0]).parent != chosen  # the first dialog opens in Pictures or home

    mix = window.style_mix_panel
    mix.update_grid()
    qtbot.waitUntil(lambda: mix.figure is not None, timeout=20000)
    mix.save()
    walk = window.interpolate_panel
    walk.set_seeds([5, 9])
    walk.export()
    qtbot.waitUntil(lambda: not walk.exporting(), timeout=30000)
    # later dialogs open where the grid went, each with a name of its own
    assert [Path(p).parent for p in offered[1:]] == [chosen, chosen]
    assert [Path(p).name for p in offered[1:]] == ["stylegan2-style-mixing.png",
                                                  "stylegan2-walk-5-9.gif"]
    assert (chosen / "stylegan2-walk-5-9.gif").is_file(), walk.message.text()


def test_a_name_typed_without_a_suffix_takes_the_chosen_filters(qtbot, window, tiny_models, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    answers = [(str(tmp_path / "grid"), "JPEG (*.jpg *.jpeg)"),
               (str(tmp_path / "walk"), "GIF (*.gif)"),
               (str(tmp_path / "frames"), "PNG frames (folder name, no suffix) (*)")]
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: answers.pop(0))
    open_model(qtbot, window, tiny_models["stylegan2"])
    generate = window.generate_panel
    qtbot.waitUntil(lambda: len(generate.grid.faces) > 0, timeout=20000)
    assert generate.save_grid_png() == str(tmp_path / "grid.jpg")
    assert Image.open(tmp_path / "grid.jpg").format == "JPEG"  # the format that was chosen, under its name
    walk = window.interpolate_panel
    walk.frames.setValue(4)
    walk.set_seeds([5, 9])
    for _ in range(2):  # a GIF, then numbered PNGs into the folder named, as typed
        walk.export()
        qtbot.waitUntil(lambda: not walk.exporting(), timeout=30000)
    assert Image.open(tmp_path / "walk.gif").n_frames == 4
    assert len(list((tmp_path / "frames").glob("frame-*.png"))) == 4, walk.message.text()


def test_hovering_the_style_mixing_figure_says_which_seeds_made_a_face(qtbot, window, tiny_models):
    from PySide6.QtCore import QPoint

    model = open_model(qtbot, window, tiny_models["stylegan2"])
    panel = window.style_mix_panel
    panel.resize(700, 500)
    panel.preset.setCurrentText("coarse (4-8 px)")
    panel.set_seeds([4, 5], [7, 8])  # 3 x 3 cells with the sources: the middle one is row 4 over column 7
    qtbot.waitUntil(lambda: panel.mixed is not None and panel.mixed.shape[:2] == (2, 2), timeout=20000)
    coarse = model.info.layers["coarse"]
    what = f"coarse styles (layers {coarse[0]}-{coarse[-1]})"
    middle = QPoint(panel.view.width() // 2, panel.view.height() // 2)
    assert panel.view.tooltip_at(middle) == f"Seed 7's face with seed 4's {what}"
    assert panel.view.tooltip_at(QPoint(1, 1)) == ""  # off the figure
    assert panel.describe(40, 10) == f"Seed 7: the face that takes the rows' {what}"
    assert panel.describe(10, 80) == f"Seed 5: gives its {what} to the faces in its row"
    assert panel.describe(10, 10) == ""  # the blank corner


def test_enter_does_what_a_double_click_does_in_the_face_grid(qtbot):
    from PySide6.QtCore import Qt

    from studio.widgets.faces import FaceGrid
    from trainers.demo_faces import demo_faces

    grid = FaceGrid(48)
    qtbot.addWidget(grid)
    grid.set_faces(demo_faces(3, 32))
    grid.show()
    grid.activateWindow()  # a shortcut of the widget with the focus, in the active window
    grid.setFocus()
    qtbot.waitUntil(lambda: grid.isActiveWindow() and grid.hasFocus(), timeout=2000)
    grid.setCurrentRow(0)
    qtbot.keyClick(grid, Qt.Key.Key_Right)  # the arrow keys move through the faces
    with qtbot.waitSignal(grid.enlarged, timeout=2000) as enlarged:
        qtbot.keyClick(grid, Qt.Key.Key_Return)
    assert enlarged.args == [1]


def test_compare_s_sheet_comes_back_in_the_next_session_when_its_tab_is_first_shown(qtbot, window, tiny_models,
                                                                                   tmp_path):
    import shutil

    from studio.main_window import MainWindow
    from tests.helpers import faces_folder

    models = tmp_path / "models"
    models.mkdir()
    dcgan, stylegan2 = (shutil.copy(tiny_models[name], models / f"{name}.onnx") for name in ("dcgan", "stylegan2"))
    gone = shutil.copy(tiny_models["dcgan"], models / "deleted.onnx")
    window.dataset_panel.resolution.setValue(32)
    others = faces_folder(tmp_path / "others", n=6, size=32)
    panel = window.compare_panel
    panel.add_paths([str(dcgan), str(stylegan2), str(gone)])
    panel.add_images(str(others))
    qtbot.waitUntil(lambda: panel.models.count() == 4, timeout=30000)
    panel.set_checked([str(stylegan2), str(others), str(gone)])  # the dcgan's row is left unticked
    window.close()
    Path(gone).unlink()

    again = MainWindow(window.settings)  # the studio started again: nothing opened for Compare yet
    qtbot.addWidget(again)
    compare = again.compare_panel
    assert compare.models.count() == 0
    again.tabs.setCurrentWidget(compare)
    again.show()
    qtbot.waitUntil(lambda: sorted(compare.checked_paths()) == sorted([str(stylegan2), str(others)]),
                    timeout=30000)
    assert compare.models.count() == 2  # the unticked row is not brought back
    qtbot.waitUntil(lambda: len(compare.shown) == 2, timeout=30000)  # the sheet is drawn again
    assert compare.message.text().endswith(f"in every row. Not on the sheet again, no longer there: {gone}.")
    again.shutdown()


def test_a_row_can_be_taken_out_of_compare_s_list_and_added_again(qtbot, window, tiny_models, tmp_path):
    from tests.helpers import faces_folder

    panel = window.compare_panel
    window.dataset_panel.resolution.setValue(32)
    images = faces_folder(tmp_path, n=6, size=32)
    panel.add_paths([str(tiny_models["dcgan"]), str(tiny_models["stylegan2"])])
    panel.add_images(str(images))
    qtbot.waitUntil(lambda: panel.models.count() == 3, timeout=30000)
    remove = {action.text(): action for action in panel.models.actions()}["Remove from the list"]  # right-click

    def listed() -> list[str]:
        return [panel.models.item(i).data(Qt.ItemDataRole.UserRole) for i in range(panel.models.count())]

    panel.models.setCurrentRow(listed().index(str(tiny_models["dcgan"])))
    remove.trigger()
    assert set(listed()) == {str(tiny_models["stylegan2"]), str(images)}
    open_model(qtbot, window, tiny_models["stylegan2"])  # the list is refreshed: the row stays out
    assert str(tiny_models["dcgan"]) not in listed()
    panel.add_paths([str(tiny_models["dcgan"])])  # added again: back
    qtbot.waitUntil(lambda: str(tiny_models["dcgan"]) in listed(), timeout=30000)
    panel.models.setCurrentRow(listed().index(str(images)))
    remove.trigger()  # a set of images goes altogether
    assert str(images) not in listed() and str(images) not in panel.image_sets
