"""Timelapses: a run's snapshot grids in training order, captioned, as GIF, MP4 or numbered PNGs."""

import time

import numpy as np
import pytest
from PIL import Image

from tests.helpers import faces_folder, tiny_config
from trainers.cli import main
from trainers.loop import train
from trainers.timelapse import (CAPTION_PX, TimelapseCancelled, TimelapseError, snapshots, timelapse_frames,
                                write_timelapse)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A StyleGAN2 run with snapshots (faces and style mixing) at steps 2, 4, 6 and 8."""
    root = tmp_path_factory.mktemp("timelapse")
    out = root / "run"
    list(train(tiny_config("stylegan2", faces_folder(root, n=8, size=32), out, steps=8, z_dim=32)))
    return out


def test_the_frames_are_the_snapshots_in_step_order_each_captioned_with_its_step(run):
    frames, steps, unreadable = timelapse_frames(run)
    assert steps == [2, 4, 6, 8] and unreadable == []
    for frame, step in zip(frames, steps):
        grid = np.asarray(Image.open(run / "samples" / f"step-{step:09d}.png").convert("RGB"))
        assert frame.shape == (grid.shape[0] + CAPTION_PX, grid.shape[1], 3)
        assert np.array_equal(frame[: grid.shape[0]], grid)
        caption = frame[grid.shape[0]:]
        assert (caption < 128).any() and (caption == 255).mean() > 0.5  # dark text on white
    # the captions differ: each names its step (and the images seen, from the log)
    assert not np.array_equal(frames[0][-CAPTION_PX:], frames[-1][-CAPTION_PX:])


def test_style_mixing_snapshots_make_their_own_timelapse(run):
    frames, steps, _ = timelapse_frames(run, kind="style-mixing")
    mixing = Image.open(run / "samples" / "style-mixing-step-000000008.png")
    assert steps == [2, 4, 6, 8] and frames.shape[1:3] == (mixing.height + CAPTION_PX, mixing.width)


def test_a_gif_shows_every_snapshot_and_holds_the_last(run, tmp_path):
    written, steps, _ = write_timelapse(run, tmp_path / "progress.gif", frame_s=0.2, hold_s=1.0, scale=2)
    assert written == [tmp_path / "progress.gif"] and steps == [2, 4, 6, 8]
    gif = Image.open(written[0])
    durations = []
    for i in range(gif.n_frames):
        gif.seek(i)
        durations.append(gif.info["duration"])
    assert gif.n_frames == 4  # (the held copies of the last frame merge into it)
    assert durations[:3] == [200, 200, 200] and durations[3] == 1200
    assert gif.size == (2 * timelapse_frames(run)[0].shape[2], 2 * timelapse_frames(run)[0].shape[1])


def test_png_frames_are_one_per_snapshot_without_a_hold(run, tmp_path):
    written, _, _ = write_timelapse(run, tmp_path / "frames", hold_s=2.0)
    assert [p.name for p in written] == [f"frame-{i:05d}.png" for i in range(4)]


def test_many_snapshots_are_thinned_evenly_keeping_the_first_and_the_last(run):
    assert timelapse_frames(run, max_frames=3)[1] == [2, 6, 8]
    assert timelapse_frames(run, max_frames=2)[1] == [2, 8]


def test_a_damaged_snapshot_is_left_out_and_reported(run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "samples" / "step-000000004.png").write_bytes(b"not a png")
    frames, steps, unreadable = timelapse_frames(copy)
    assert steps == [2, 6, 8] and unreadable == [copy / "samples" / "step-000000004.png"] and len(frames) == 3


def test_a_resumed_run_with_another_grid_size_is_scaled_to_the_newest(run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    first = copy / "samples" / "step-000000002.png"
    Image.open(first).resize((10, 10)).save(first)
    frames, steps, _ = timelapse_frames(copy)
    assert steps == [2, 4, 6, 8] and frames.shape[0] == 4  # one array: every frame the newest one's size


def test_a_run_with_fewer_than_two_snapshots_is_a_clear_error_and_a_cancel_writes_nothing(run, tmp_path):
    (tmp_path / "young" / "samples").mkdir(parents=True)
    with pytest.raises(TimelapseError, match="no snapshot grid in samples/ yet; a timelapse needs two or more"):
        timelapse_frames(tmp_path / "young")
    with pytest.raises(TimelapseError, match="only one"):
        Image.new("RGB", (8, 8)).save(tmp_path / "young" / "samples" / "step-000000002.png")
        timelapse_frames(tmp_path / "young")
    with pytest.raises(TimelapseCancelled):
        write_timelapse(run, tmp_path / "cancelled.gif", cancel=lambda: True)
    assert not list(tmp_path.glob("*cancelled*"))
    assert snapshots(tmp_path / "nowhere") == []


def test_the_command_line_writes_a_timelapse_and_explains_what_it_cannot_do(run, tmp_path, capsys):
    assert main(["timelapse", str(run), "--out", str(tmp_path / "progress.gif")]) == 0
    assert "4 snapshots, steps 2 to 8" in capsys.readouterr().out
    assert Image.open(tmp_path / "progress.gif").n_frames == 4
    assert main(["timelapse", str(tmp_path), "--out", str(tmp_path / "x.gif")]) == 2
    assert "a timelapse needs two or more" in capsys.readouterr().err
    assert main(["timelapse", str(run), "--out", str(tmp_path / "x.webm")]) == 2
    assert "use .gif, .mp4 or a folder" in capsys.readouterr().err
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "x.webm").exists()


@pytest.mark.parametrize("suffix", [".gif", ".mp4", ""])
def test_a_cancel_while_the_animation_is_written_leaves_no_file_behind(run, tmp_path, suffix):
    asked = []

    def cancel():  # no while the 4 snapshots are read and the first 2 frames are made (or written), then yes
        asked.append(1)
        return len(asked) > 6

    with pytest.raises(TimelapseCancelled):
        write_timelapse(run, tmp_path / f"progress{suffix}", cancel=cancel)
    time.sleep(0.5)  # (an encoder stopped mid-file could still write)
    # neither the file nor its temporary one; for PNG frames, neither the 2 frames written nor the new folder
    assert len(asked) == 7 and list(tmp_path.iterdir()) == []


def test_a_cancelled_png_sequence_keeps_the_folder_it_was_given_and_what_else_is_there(run, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    asked = []
    with pytest.raises(TimelapseCancelled):
        write_timelapse(run, folder, cancel=lambda: asked.append(1) or len(asked) > 6)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    written, steps, _ = write_timelapse(run, folder)  # and the folder takes a whole sequence afterwards
    assert len(written) == 4 and sorted(p.name for p in folder.iterdir())[0] == "frame-00000.png"


def test_large_grids_are_scaled_down_and_their_frames_thinned_to_fit_in_memory(run, monkeypatch):
    import trainers.timelapse as timelapse

    grid = Image.open(run / "samples" / "step-000000008.png")
    monkeypatch.setattr(timelapse, "MAX_SIDE", grid.width // 2)  # StyleGAN2's 8x8 grids at 256 px: 2 kpx
    frames, steps, _ = timelapse_frames(run)
    assert frames.shape[1:3] == (round(grid.height / 2) + CAPTION_PX, grid.width // 2) and len(steps) == 4
    monkeypatch.setattr(timelapse, "MAX_BYTES", 3 * frames[0].nbytes)  # memory for three frames
    assert timelapse_frames(run)[1] == [2, 6, 8]
