"""The command line end to end, as a user runs it."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import faces_folder
from trainers.cli import main
from trainers.explore import COPY_DISTANCE, FaceOrigin, face_origin
from trainers.images import save_png

TINY = ["--resolution", "32", "--batch", "4", "--device", "cpu", "--g-width", "32", "--d-width", "8",
        "--log-every", "2", "--sample-every", "2", "--grid", "2", "--quiet"]


def test_train_sample_and_resume(tmp_path, capsys):
    data = faces_folder(tmp_path, n=12)
    (data / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (data / "empty.png").write_bytes(b"")
    run = tmp_path / "run"
    assert main(["train", str(data), "--model", "wgan-gp", "--out", str(run), "--steps", "3", "--n-critic", "2",
                 *TINY]) == 0
    err = capsys.readouterr().err
    assert "12 of 14 image files used" in err and "broken.jpg" in err and "empty.png" in err
    assert "finished at step 3" in err
    report = (run / "data_report.txt").read_text()
    assert "corrupt or truncated: broken.jpg" in report and "zero-byte file: empty.png" in report

    assert main(["sample", str(run), "--n", "64", "--seed", "0", "--out", str(tmp_path / "grid.png"),
                 "--device", "cpu"]) == 0
    grid = Image.open(tmp_path / "grid.png")
    assert grid.size == (8 * 34 + 2, 8 * 34 + 2)
    # the grid's PNG text says how to make it again, as the studio's grids do
    assert grid.text["family"] == "wgan-gp" and grid.text["seeds"] == "0-63" and grid.text["truncation"] == "1"
    assert grid.text["model"] == str(run / "checkpoints" / "step-000000003.pt") and grid.text["step"] == "3"
    checkpoint = str(run / "checkpoints" / "step-000000003.pt")
    # the studio reopens it
    assert face_origin(tmp_path / "grid.png") == FaceOrigin(checkpoint, 0, 64, 1.0, 3, "wgan-gp")
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "grid.jpg"), "--device", "cpu"]) == 0
    assert Image.open(tmp_path / "grid.jpg").format == "JPEG"  # not PNG bytes under a .jpg name
    assert face_origin(tmp_path / "grid.jpg") == FaceOrigin(checkpoint, 0, 4, 1.0, 3, "wgan-gp")  # from its comment
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "grid.tiff"), "--device", "cpu"]) == 2
    assert "cannot write .tiff images; use .png, .jpg or .webp" in capsys.readouterr().err
    assert not (tmp_path / "grid.tiff").exists()

    assert main(["sample", str(run), "--n", "3", "--seed", "10", "--out", str(tmp_path / "out") + "/",
                 "--device", "cpu"]) == 0
    files = sorted(os.listdir(tmp_path / "out"))
    name = f"wgan-gp-{run.name}-step-000000003-seed{{:06d}}.png"  # the run's name comes with its checkpoint
    assert files == [name.format(10), name.format(11), name.format(12)]
    face11 = np.asarray(Image.open(tmp_path / "out" / files[1]))
    assert Image.open(tmp_path / "out" / files[1]).text["seed"] == "11"
    assert face_origin(tmp_path / "out" / files[1]) == FaceOrigin(checkpoint, 11, 1, 1.0, 3, "wgan-gp")
    # a saved face as MODEL: its model makes it again, at its seed (here as a one-face grid, in its frame)
    assert main(["sample", str(tmp_path / "out" / files[1]), "--out", str(tmp_path / "again.png"),
                 "--device", "cpu"]) == 0
    assert "was made by " + checkpoint + ", seed 11, truncation 1" in capsys.readouterr().err
    assert np.array_equal(face11, np.asarray(Image.open(tmp_path / "again.png"))[2:-2, 2:-2])
    save_png(tmp_path / "moved.png", face11, {"seed": "3", "model": str(tmp_path / "moved.pt"), "software": "GAN Studio"})
    assert main(["sample", str(tmp_path / "moved.png"), "--out", str(tmp_path / "x.png"), "--device", "cpu"]) == 2
    assert "moved.pt is no longer there (nor beside moved.png): give the model where it is now as MODEL, with " \
           "--seed 3 --n 1" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
    # a face sent with its model: the model of that name beside it makes it
    (tmp_path / "sent").mkdir()
    shutil.copy(checkpoint, tmp_path / "sent" / "step-000000003.pt")
    save_png(tmp_path / "sent" / "face.png", face11, {**Image.open(tmp_path / "out" / files[1]).text,
                                                       "model": str(tmp_path / "elsewhere" / "step-000000003.pt")})
    assert main(["sample", str(tmp_path / "sent" / "face.png"), "--out", str(tmp_path / "sent.png"),
                 "--device", "cpu"]) == 0
    assert "using " + str(tmp_path / "sent" / "step-000000003.pt") + ", of the same name, beside the face" in \
        capsys.readouterr().err
    assert np.array_equal(face11, np.asarray(Image.open(tmp_path / "sent.png"))[2:-2, 2:-2])
    # The same seed gives the same face alone or inside a larger batch.
    assert main(["sample", str(run), "--n", "1", "--seed", "11", "--out", str(tmp_path / "one") + "/",
                 "--device", "cpu"]) == 0
    assert np.array_equal(face11, np.asarray(Image.open(tmp_path / "one" / name.format(11))))

    assert main(["train", "--out", str(run), "--resume", "--steps", "2", "--quiet"]) == 0  # two more
    err = capsys.readouterr().err
    assert "resuming at step 3" in err and "finished at step 5" in err
    config = (run / "config.json").read_text()
    assert '"n_critic": 2' in config and '"gp_weight": 10.0' in config and '"steps": 5' in config


def test_sampling_two_models_into_one_folder_keeps_both(tmp_path, capsys):
    data = faces_folder(tmp_path, n=8)
    runs = [str(tmp_path / "a"), str(tmp_path / "b")]
    for seed, run in enumerate(runs):
        assert main(["train", str(data), "--out", run, "--steps", "1", "--seed", str(seed), *TINY]) == 0
    out = str(tmp_path / "exported") + "/"
    for run in runs + runs:  # each model twice: the second time rewrites its own faces
        assert main(["sample", run, "--n", "2", "--seed", "5", "--out", out, "--device", "cpu"]) == 0
    files = sorted(os.listdir(out))
    # each run's name is in its faces' names
    assert files == ["dcgan-a-step-000000001-seed000005.png", "dcgan-a-step-000000001-seed000006.png",
                     "dcgan-b-step-000000001-seed000005.png", "dcgan-b-step-000000001-seed000006.png"]
    sources = {Image.open(os.path.join(out, f)).text["model"] for f in files}
    assert sources == {os.path.join(run, "checkpoints", "step-000000001.pt") for run in runs}
    # two runs of one name in different places still never overwrite each other's faces
    other = tmp_path / "elsewhere" / "a"
    assert main(["train", str(data), "--out", str(other), "--steps", "1", "--seed", "7", *TINY]) == 0
    assert main(["sample", str(other), "--n", "1", "--seed", "5", "--out", out, "--device", "cpu"]) == 0
    assert "dcgan-a-step-000000001-seed000005 (2).png" in os.listdir(out)


def test_an_output_that_cannot_be_written_is_a_message_not_a_traceback(tmp_path, capsys):
    data = faces_folder(tmp_path, n=8)
    run = str(tmp_path / "run")
    assert main(["train", str(data), "--out", run, "--steps", "1", *TINY]) == 0
    capsys.readouterr()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for command in (["sample", run, "--n", "2", "--out", str(blocker / "faces") + "/"],
                    ["sample", run, "--n", "2", "--out", str(blocker / "grid.png")],
                    ["export", run, "--out", str(blocker / "model.onnx")],
                    ["eval", run, "--real", str(data), "--n", "8", "--json", str(blocker / "scores.json")]):
        assert main(command + (["--device", "cpu"] if command[0] == "sample" else [])) == 2
        err = capsys.readouterr().err
        assert f"cannot write {blocker}" in err and "Traceback" not in err
    assert main(["train", str(data), "--out", str(blocker / "run"), *TINY]) == 2
    assert f"cannot write the run folder {blocker}" in capsys.readouterr().err


def test_unusable_data_and_bad_usage_exit_with_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.gif").write_text("GIF89a but not really")
    assert main(["train", str(empty), "--out", str(tmp_path / "r"), *TINY]) == 2
    assert "no usable image" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "missing"), "--out", str(tmp_path / "r"), *TINY]) == 2
    with pytest.raises(SystemExit) as info:
        main(["train", str(empty), "--model", "nope"])
    assert info.value.code == 2
    assert main(["train", str(faces_folder(tmp_path)), "--resolution", "48", "--out", str(tmp_path / "r")]) == 2
    assert "resolutions" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "nothing-here"), "--out", str(tmp_path / "g.png")]) == 2
    capsys.readouterr()
    for args, message in ((["--n", "0"], "--n and --real-last must be at least 2"),
                          (["--real-last", "-5"], "--n and --real-last must be at least 2"),
                          (["--metric", "swd,fdi"], "unknown metric fdi; choose from swd, fid, kid")):
        assert main(["eval", str(tmp_path / "nothing-here"), *args]) == 2  # before any model is opened
        assert message in capsys.readouterr().err


def test_a_device_this_machine_lacks_is_a_message_not_a_traceback(tmp_path, capsys):
    import torch

    data = faces_folder(tmp_path, n=8, size=32)
    train = ["train", str(data), *TINY, "--steps", "2"]
    asked = {"tpu": "device 'tpu' is not a device; use auto, cpu, cuda (or cuda:N) or mps",
             "cuda:x": "device 'cuda:x' is not a device", "meta": "device meta: GAN Studio runs on cpu, cuda"}
    if not torch.backends.mps.is_available():
        asked["mps"] = "device mps needs an Apple-silicon Mac"
    if not torch.cuda.is_available():
        asked["cuda:1"] = "device cuda:1 was asked for, but no CUDA GPU is available here"
    for device, message in asked.items():
        assert main([*train, "--device", device, "--out", str(tmp_path / device)]) == 2, device
        assert message in capsys.readouterr().err, device
        assert not (tmp_path / device / "checkpoints").exists()
    if not torch.cuda.is_available():  # a checkpoint asked to run on a GPU that is not there says so, as ONNX does
        assert main([*train, "--device", "cpu", "--out", str(tmp_path / "run")]) == 0
        capsys.readouterr()
        assert main(["sample", str(tmp_path / "run"), "--device", "cuda", "--out", str(tmp_path / "g.png")]) == 2
        assert "no CUDA GPU is available here" in capsys.readouterr().err and not (tmp_path / "g.png").exists()


def test_an_existing_run_is_not_overwritten(tmp_path, capsys):
    data = faces_folder(tmp_path, n=8)
    run = str(tmp_path / "run")
    assert main(["train", str(data), "--out", run, "--steps", "2", *TINY]) == 0
    assert main(["train", str(data), "--out", run, "--steps", "2", *TINY]) == 2
    assert "--resume" in capsys.readouterr().err


def test_help_documents_every_option():
    out = subprocess.run([sys.executable, "-m", "trainers", "train", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for option in ["--model", "--steps", "--epochs", "--minutes", "--batch", "--resolution", "--device", "--seed",
                   "--resume", "--lr-g", "--lr-d", "--beta1", "--beta2", "--n-critic", "--clip", "--gp-weight",
                   "--z-dim", "--g-width", "--d-width", "--linear", "wgan-gp"]:
        assert option in out.stdout, option


def test_stylegan2_from_the_command_line(tmp_path, capsys):
    data = faces_folder(tmp_path, n=8, size=32)
    run = tmp_path / "sg"
    assert main(["train", str(data), "--model", "stylegan2", "--preset", "tiny", "--z-dim", "32", "--resolution", "32",
                 "--steps", "2", "--batch", "4", "--device", "cpu", "--out", str(run), "--quiet"]) == 0
    assert (run / "samples" / "style-mixing-step-000000002.png").is_file()
    assert main(["sample", str(run), "--n", "4", "--truncation", "0.5", "--out", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").text["truncation"] == "0.5"
    # A face found for a picture gives its styles, and takes others', as a seed's face does.
    picture = sorted(data.iterdir())[0]
    assert main(["project", str(run), str(picture), "--steps", "3", "--search", "8",
                 "--out", str(tmp_path / "found") + "/"]) == 0
    assert main(["sample", str(run), "--n", "1", "--seed", "4", "--out", str(tmp_path / "found") + "/"]) == 0
    found, seed4 = (tmp_path / "found" / f"{picture.stem}-found.png"), next((tmp_path / "found").glob("*seed*.png"))
    capsys.readouterr()
    assert main(["style-mix", str(found), str(seed4), "--out", str(tmp_path / "mix.png")]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'mix.png'}: rows [{found.name}],4 give ws layers")
    figure = np.asarray(Image.open(tmp_path / "mix.png").convert("RGB"))
    face = np.asarray(Image.open(found).convert("RGB"))
    assert np.array_equal(figure[32:64, 32:64], face)  # the found face, mixed with itself, is itself
    assert not np.array_equal(figure[64:96, 32:64], face)  # seed 4's coarse styles change it
    dc = tmp_path / "dc"
    assert main(["train", str(data), "--out", str(dc), "--steps", "1", *TINY]) == 0
    assert main(["sample", str(dc), "--truncation", "0.5", "--out", str(tmp_path / "x.png")]) == 2
    assert "stylegan2" in capsys.readouterr().err


def test_resume_without_more_steps_finishes_the_plan_or_says_how_to_go_on(tmp_path, capsys):
    data = faces_folder(tmp_path, n=8)
    run = str(tmp_path / "run")
    assert main(["train", str(data), "--out", run, "--steps", "2", *TINY]) == 0
    assert main(["train", "--out", run, "--resume", "--quiet"]) == 2
    assert "add --steps N to train N more" in capsys.readouterr().err
    assert main(["train", str(data), "--out", run, "--resume", "--steps", "1", "--quiet"]) == 0
    assert "finished at step 3" in capsys.readouterr().err


def test_train_from_a_saved_config_and_resume_with_its_totals(tmp_path, capsys):
    data = faces_folder(tmp_path, n=8)
    run = tmp_path / "run"
    assert main(["train", str(data), "--out", str(run), "--steps", "2", *TINY]) == 0
    saved = json.loads((run / "config.json").read_text())
    saved.update(steps=4, out=str(tmp_path / "copy"))
    (tmp_path / "c.json").write_text(json.dumps(saved))
    assert main(["train", "--config", str(tmp_path / "c.json"), "--quiet"]) == 0
    assert "finished at step 4" in capsys.readouterr().err
    saved.update(steps=5, out=str(run))
    (tmp_path / "c.json").write_text(json.dumps(saved))
    assert main(["train", "--config", str(tmp_path / "c.json"), "--resume", "--out", str(run), "--quiet"]) == 0
    assert "finished at step 5" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert main(["train", "--config", str(tmp_path / "bad.json")]) == 2


def test_a_time_limited_run_counts_its_progress_bar_to_the_step_it_will_reach(tmp_path, capsys, monkeypatch):
    import re

    import trainers.cli as cli

    monkeypatch.setattr(cli, "_on_terminal", lambda: True)  # a bar is drawn on a terminal only
    data = faces_folder(tmp_path, n=8)
    args = [a for a in TINY if a != "--quiet"]
    assert main(["train", str(data), "--out", str(tmp_path / "run"), "--steps", "10000000", "--minutes", "0.1",
                 *args]) == 0
    err = capsys.readouterr().err
    done, total = map(int, re.findall(r"(\d+)/(\d+) \[", err)[-1])
    finished = int(re.search(r"finished at step ([\d,]+)", err).group(1).replace(",", ""))
    assert total < 100_000 and abs(total - finished) <= max(10, finished // 4), (done, total, finished)


def test_a_log_file_gets_plain_lines_not_a_progress_bar(tmp_path, capsys):
    data = faces_folder(tmp_path, n=8)
    args = [a for a in TINY if a != "--quiet"]  # (pytest's captured stderr is not a terminal, as a log file is not)
    assert main(["train", str(data), "--out", str(tmp_path / "run"), "--steps", "4",
                 *args]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "reading images" not in err and "step/s" not in err
    lines = err.splitlines()
    assert [line.split()[:2] for line in lines if line.startswith("step ")] == [["step", "2"], ["step", "4"]]
    assert "img/s=" in lines[-3] and lines[-2].startswith("checkpoint: ") and lines[-1].startswith("finished at step 4")


def test_eval_names_each_checkpoint_with_its_run(tmp_path, capsys):
    data = faces_folder(tmp_path, n=8)
    runs = [str(tmp_path / "a"), str(tmp_path / "b")]
    for seed, run in enumerate(runs):
        assert main(["train", str(data), "--out", run, "--steps", "1", "--seed", str(seed), *TINY]) == 0
    checkpoints = [os.path.join(run, "checkpoints", "step-000000001.pt") for run in runs]
    capsys.readouterr()
    assert main(["eval", *checkpoints, "--real", str(data), "--n", "8"]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == ["a/step-000000001.pt", "b/step-000000001.pt"]  # not two rows of step-000000001.pt


def test_nearest_finds_the_real_images_a_model_copies(tmp_path, capsys):
    model = Path(__file__).parents[2] / "resources" / "demo" / "dcgan-tutorial.onnx"  # trained: varied faces
    data = faces_folder(tmp_path, n=8, size=64)
    assert main(["sample", str(model), "--n", "2", "--out", str(data) + "/"]) == 0  # seeds 0 and 1 join the images
    [second] = data.glob("*seed000001.png")
    Image.open(second).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(second)  # seed 1's face, mirrored
    capsys.readouterr()
    assert main(["nearest", str(model), "--real", str(data), "--n", "4", "--k", "3",
                 "--out", str(tmp_path / "near.png")]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in out[1:5]]
    assert rows[0][2].endswith("seed000000.png") and out[1].endswith("(a copy)") and float(rows[0][1]) < 0.01
    assert out[2].endswith(f"  {second.name}, mirrored  (a copy)") and float(rows[1][1]) < 0.01
    assert not out[3].endswith("(a copy)") and float(rows[2][1]) > COPY_DISTANCE  # seeds 2 and 3 were not there
    assert out[5].startswith("2 of 4 faces look like copies of a real image")
    sheet = np.asarray(Image.open(tmp_path / "near.png").convert("RGB"))
    assert sheet.shape == (4 * (18 + 64 + 4) + 4, 4 * (64 + 4) + 4, 3)  # the face and 3 nearest, 4 rows
    top = (18 + 64 + 4) + 18 + 4  # the second row: seed 1, then its nearest image, shown as it matched (mirrored)
    assert np.array_equal(sheet[top : top + 64, 4 + 68 : 4 + 68 + 64], sheet[top : top + 64, 4 : 4 + 64])
    assert main(["nearest", str(model), "--n", "1"]) == 2  # an exported demo model's images are not here
    assert "give --real DATA" in capsys.readouterr().err


def test_duplicates_lists_copies_and_says_which_held_out_files_are_not_unseen(tmp_path, capsys):
    import shutil

    data = faces_folder(tmp_path, n=8, size=32)
    first = sorted(data.iterdir())[2]
    shutil.copy(first, data / "zz-copy.png")  # the last file by path: held out by --holdout 1
    assert main(["duplicates", str(data), "--resolution", "32", "--holdout", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["0.000", first.name, "zz-copy.png"]
    assert lines[2].startswith(f"1 of 9 images are copies of an earlier one (1 pair under {COPY_DISTANCE} apart)")
    assert lines[3] == ("1 of the last 1 files (held out) have a copy among the files before them: train --holdout 1 "
                        "leaves their 1 copy out of training, so that the held-out faces stay unseen")
    (data / "zz-copy.png").unlink()
    assert main(["duplicates", str(data), "--resolution", "32"]) == 0
    assert capsys.readouterr().out.startswith("no image of the 8 is a copy of another")
    assert main(["duplicates", str(tmp_path / "nothing")]) == 2
    for holdout, message in (("0", "--holdout must be at least 1, not 0"), ("8", "would hold out every image")):
        assert main(["duplicates", str(data), "--resolution", "32", "--holdout", holdout]) == 2
        assert message in capsys.readouterr().err


def test_eval_of_models_of_two_sizes_shows_every_level_and_scores_images_at_the_models_size(tmp_path, capsys):
    data = faces_folder(tmp_path, n=8)
    for size in (32, 64):
        assert main(["train", str(data), "--out", str(tmp_path / f"r{size}"), "--steps", "1", *TINY,
                     "--resolution", str(size)]) == 0
    capsys.readouterr()
    out = tmp_path / "eval.json"
    assert main(["eval", str(tmp_path / "r32"), str(tmp_path / "r64"), str(data), "--real", str(data), "--n", "8",
                 "--json", str(out)]) == 0
    captured = capsys.readouterr()
    header, *lines = captured.out.splitlines()
    assert header.split() == ["model", "px", "n", "SWD/64", "SWD/32", "SWD/16", "SWD"]
    assert [line.split()[1] for line in lines] == ["32", "64", "32"]  # the images at the first model's size
    assert len(lines[0].split()) == 6 and len(lines[1].split()) == 7  # 32 px has no SWD/64: left blank
    assert "scores taken at different sizes do not compare" in captured.err
    assert [r["resolution"] for r in json.loads(out.read_text())["results"]] == [32, 64, 32]


def test_scores_while_training_are_those_eval_gives_the_checkpoints(tmp_path, capsys):
    data = faces_folder(tmp_path, n=30)
    run = tmp_path / "run"
    assert main(["train", str(data), "--out", str(run), "--steps", "4", "--checkpoint-every", "2", "--holdout", "10",
                 "--score-every", "2", "--score-n", "8", *TINY]) == 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "SWD" in line]
    assert len(said) == 3 and all("against 8 held-out images" in line for line in said[:2]), err
    assert said[2].startswith("best-scoring checkpoint: ") and said[2].endswith(")")  # at the end, which scored best
    logged = [row for row in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if "Score/SWD" in row]
    assert [row["step"] for row in logged] == [2, 4]

    checkpoints = [str(run / "checkpoints" / f"step-00000000{s}.pt") for s in (2, 4)]
    out = tmp_path / "eval.json"
    assert main(["eval", *checkpoints, "--real", str(data), "--real-last", "10", "--n", "8", "--json", str(out)]) == 0
    evaluated = [r["SWD"] for r in json.loads(out.read_text())["results"]]
    assert evaluated == pytest.approx([row["Score/SWD"] for row in logged], rel=1e-6)
    assert evaluated[0] != pytest.approx(evaluated[1], rel=1e-3)  # two steps, two different figures

    # without --real: the run's own held-out files, said so; the folder itself among the models gives the floor
    capsys.readouterr()
    assert main(["eval", *checkpoints, str(data), "--n", "8", "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"scoring against the last 10 files of {data} (step-000000002.pt's own held-out images" in err
    results = json.loads(out.read_text())["results"]
    assert [r["SWD"] for r in results[:2]] == pytest.approx(evaluated, rel=1e-6)
    assert "floor" in results[2]["kind"] and results[2]["n"] == 8
    data.rename(tmp_path / "moved")
    assert main(["eval", checkpoints[0]]) == 2
    assert f"give --real DATA: {checkpoints[0]} trained on {data}, which is not there any more" in \
        capsys.readouterr().err
    assert main(["eval", str(tmp_path / "moved")]) == 2
    assert "give --real DATA: the real images to compare with" in capsys.readouterr().err


def test_scoring_against_too_few_held_out_images_is_refused_before_training(tmp_path, capsys):
    data = faces_folder(tmp_path, n=8)
    assert main(["train", str(data), "--out", str(tmp_path / "run"), "--steps", "2", "--holdout", "1",
                 "--score-every", "1", *TINY]) == 2
    err = capsys.readouterr().err
    assert "at least two held-out images" in err and "training dcgan" not in err


def test_a_zip_of_images_trains_resumes_and_scores_as_its_folder_would(tmp_path, capsys):
    folder = faces_folder(tmp_path, n=10)
    path = tmp_path / "faces.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, f"faces/{p.name}")
    run = tmp_path / "run"
    assert main(["train", str(path), "--out", str(run), "--steps", "1", *TINY]) == 0
    err = capsys.readouterr().err
    assert f"10 of 10 image files used from {path}" in err and "finished at step 1" in err
    assert json.loads((run / "config.json").read_text())["data"] == str(path)
    assert main(["train", "--out", str(run), "--resume", "--steps", "1", "--quiet"]) == 0  # reads the zip again
    assert "finished at step 2" in capsys.readouterr().err
    # moved: the message says how to go on with the images where they are now
    path.rename(tmp_path / "moved.zip")
    assert main(["train", "--out", str(run), "--resume", "--steps", "1", "--quiet"]) == 2
    assert f"give their new place: train NEW_PLACE --resume --out {run}" in capsys.readouterr().err
    path = tmp_path / "moved.zip"
    assert main(["train", str(path), "--out", str(run), "--resume", "--steps", "1", "--quiet"]) == 0
    assert "finished at step 3" in capsys.readouterr().err
    # a zip as the real images and as the images scored: its floor (its faces against others of its own) is
    # the folder's, face for face
    floors = []
    for images in (path, folder):
        assert main(["eval", str(images), "--real", str(images), "--n", "10"]) == 0
        floors.append(capsys.readouterr().out.splitlines()[1].split()[-1])
    assert floors[0] == floors[1] and float(floors[0]) > 0


def test_version_says_what_gan_studio_runs_on(capsys):
    from trainers import __version__

    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"GAN Studio {__version__} (Python ") and " · torch " in out and " · onnxruntime " in out


def test_project_finds_the_models_face_most_like_a_picture_and_saves_its_latent(tmp_path, capsys):
    import base64

    from trainers.inference import open_model

    path = Path(__file__).parents[2] / "resources" / "demo" / "dcgan-tutorial.onnx"  # trained: varied faces
    model = open_model(path, "cpu")
    picture = model.generate([424_242])[0]  # a face it can make, far from the seeds searched
    Image.fromarray(picture.transpose(1, 2, 0)).save(tmp_path / "mine.png")
    (tmp_path / "notes.png").write_text("not a picture")
    assert main(["project", str(path), str(tmp_path / "mine.png"), "--steps", "30", "--search", "64",
                 "--out", str(tmp_path / "sheet.png")]) == 0
    out = capsys.readouterr().out.splitlines()
    seed, seed_distance, distance, name = out[1].split()[:4]
    assert 0 <= int(seed) < 64 and name == str(tmp_path / "mine.png")
    assert float(distance) < 0.8 * float(seed_distance)
    sheet = np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB"))
    assert sheet.shape == (18 + 64 + 4 + 4, 3 * (64 + 4) + 4, 3)  # the picture, the seed's face, the face found
    assert np.array_equal(sheet[22:86, 4:68], picture.transpose(1, 2, 0))
    assert np.array_equal(sheet[22:86, 72:136], model.generate([int(seed)])[0].transpose(1, 2, 0))

    assert main(["project", str(path), str(tmp_path / "mine.png"), "--steps", "5", "--search", "8",
                 "--out", str(tmp_path / "found") + "/"]) == 0
    with Image.open(tmp_path / "found" / "mine-found.png") as png:
        text, face = png.text, np.asarray(png.convert("RGB"))
    z = np.frombuffer(base64.b64decode(text["latent"]), "<f4")[None]
    assert text["space"] == "z" and text["found-for"] == str(tmp_path / "mine.png")
    assert np.array_equal(model.generate(z=z)[0].transpose(1, 2, 0), face)  # the latent makes the face saved
    capsys.readouterr()
    assert main(["project", str(path), str(tmp_path / "notes.png"), "--out", str(tmp_path / "x.png")]) == 2
    assert f"{tmp_path / 'notes.png'}: " in capsys.readouterr().err and not (tmp_path / "x.png").exists()

    # Two pictures of one name in two folders: each face found is kept.
    (tmp_path / "other").mkdir()
    Image.fromarray(model.generate([77])[0].transpose(1, 2, 0)).save(tmp_path / "other" / "mine.png")
    assert main(["project", str(path), str(tmp_path / "mine.png"), str(tmp_path / "other" / "mine.png"),
                 "--steps", "2", "--search", "4", "--out", str(tmp_path / "both") + "/"]) == 0
    assert sorted(f.name for f in (tmp_path / "both").iterdir()) == ["mine-found (2).png", "mine-found.png"]

    # A face found is made again from its record, and walked through with other saved faces.
    assert main(["sample", str(tmp_path / "found" / "mine-found.png"), "--out", str(tmp_path / "again.png")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "again.png").convert("RGB")), face)
    assert main(["sample", str(path), "--n", "1", "--seed", "9", "--out", str(tmp_path / "found") + "/"]) == 0
    [nine] = (tmp_path / "found").glob("*seed000009.png")
    assert main(["interpolate", str(tmp_path / "found" / "mine-found.png"), str(nine), "--frames", "5",
                 "--out", str(tmp_path / "walk")]) == 0
    assert "through 2 faces, 1 of them found for pictures or edited (slerp in z" in capsys.readouterr().out
    frames = sorted((tmp_path / "walk").glob("*.png"))
    assert np.array_equal(np.asarray(Image.open(frames[0]).convert("RGB")), face)
    assert np.array_equal(np.asarray(Image.open(frames[-1]).convert("RGB")),
                          model.generate([9])[0].transpose(1, 2, 0))
    assert main(["style-mix", str(tmp_path / "found" / "mine-found.png"), str(nine), "--out", "mix.png"]) == 2
    assert "style mixing needs a StyleGAN2 model" in capsys.readouterr().err  # (a DCGAN's face found, here)


def test_edit_writes_a_sheet_of_directions_and_one_edited_face_that_is_made_again_walked_and_mixed(tmp_path, capsys):
    from trainers.explore import found_face
    from trainers.inference import open_model

    demo = Path(__file__).parents[2] / "resources" / "demo"
    stylegan2 = open_model(demo / "stylegan2.onnx", "cpu")
    assert main(["edit", str(demo / "stylegan2.onnx"), "--seed", "7", "--directions", "1-3", "--amounts", "-1", "0",
                 "1", "--out", str(tmp_path / "sheet.png")]) == 0
    captured = capsys.readouterr()
    assert "direction 1 (" in captured.err and "direction 8 (" in captured.err
    assert captured.out.startswith(f"wrote {tmp_path / 'sheet.png'}: seed 7, a row for each of directions 1-3")
    sheet = np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB"))
    size = 64 + 18 + 4
    assert sheet.shape == (3 * size + 4, 3 * (64 + 4) + 4, 3)  # 3 directions x 3 amounts
    seven = stylegan2.generate([7])[0].transpose(1, 2, 0)
    for row in range(3):  # amount 0, the middle column, is the face itself on every row
        assert np.array_equal(sheet[row * size + 22 : row * size + 86, 72:136], seven)
    assert not np.array_equal(sheet[22:86, 4:68], seven)

    # One edited face: its latent recorded; made again exactly; edited again; walked and mixed with a seed's face.
    assert main(["edit", str(demo / "stylegan2.onnx"), "--seed", "7", "--set", "1=1.5,3=-1", "--styles", "coarse",
                 "--out", str(tmp_path / "edited.png")]) == 0
    assert "seed 7: direction 1 +1.5, direction 3 -1 (coarse styles)" in capsys.readouterr().out
    record = found_face(tmp_path / "edited.png")
    assert record.space == "ws" and record.latent.shape == (stylegan2.info.num_ws, stylegan2.info.w_dim)
    edited = np.asarray(Image.open(tmp_path / "edited.png").convert("RGB"))
    assert not np.array_equal(edited, seven)
    assert main(["sample", str(tmp_path / "edited.png"), "--out", str(tmp_path / "again.png")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "again.png").convert("RGB")), edited)
    assert main(["edit", str(tmp_path / "edited.png"), "--set", "2=1", "--out", str(tmp_path / "twice.png")]) == 0
    assert found_face(tmp_path / "twice.png").edit == \
        "seed 7: direction 1 +1.5, direction 3 -1 (coarse styles), then direction 2 +1"
    assert main(["sample", str(demo / "stylegan2.onnx"), "--n", "1", "--seed", "9", "--out", str(tmp_path)]) == 0
    [nine] = tmp_path.glob("*seed000009.png")
    assert main(["interpolate", str(tmp_path / "edited.png"), str(nine), "--frames", "4",
                 "--out", str(tmp_path / "walk")]) == 0
    first = np.asarray(Image.open(sorted((tmp_path / "walk").glob("*.png"))[0]).convert("RGB"))
    assert np.array_equal(first, edited)
    assert main(["style-mix", str(tmp_path / "edited.png"), str(nine), "--out", str(tmp_path / "mix.png")]) == 0

    # A DCGAN edits in z; what does not apply says so.
    capsys.readouterr()
    dcgan = demo / "dcgan-tutorial.onnx"
    assert main(["edit", str(dcgan), "--seed", "3", "--set", "2=2", "--out", str(tmp_path / "dc.png")]) == 0
    assert found_face(tmp_path / "dc.png").space == "z"
    for bad, message in ((["--styles", "coarse"], "--styles needs a StyleGAN2 model"),
                         (["--directions", "7-9"], "directions are numbered 1 to 8"),
                         (["--set", "9=1"], "directions are numbered 1 to 8"),
                         (["--amounts", "-9", "9"], "amounts go from -5 to 5"),
                         (["--set", "1:2"], "--set is DIRECTION=AMOUNT"),
                         (["--truncation", "0.7"], "truncation needs a StyleGAN2 model")):
        assert main(["edit", str(dcgan), *bad, "--out", str(tmp_path / "bad.png")]) == 2, bad
        assert message in capsys.readouterr().err, bad
    assert not (tmp_path / "bad.png").exists()
