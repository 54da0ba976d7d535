"""The benchmarks run (their figures are for people, not assertions): each prints its table."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_train_speed_quick_prints_every_row():
    result = run("bench/train_speed.py", "--quick", "--families", "dcgan,wgan-gp,stylegan2")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith("classic pipeline") for line in lines)
    for family in ("dcgan", "wgan-gp", "stylegan2"):
        assert any(line.startswith(family) and "img/s" in line and "s/epoch" in line for line in lines), family


def test_data_speed_prints_the_ratio():
    result = run("bench/data_speed.py", "--n", "300", "--zip")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ratio (classic / cached)" in result.stdout
    assert "first read of a stored zip:" in result.stdout and "first read of a deflated zip:" in result.stdout
    assert "first read of a tar:" in result.stdout


def test_inference_speed_prints_both_engines():
    result = run("bench/inference_speed.py", "--families", "dcgan", "--batches", "1", "--repeats", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ort/torch" in result.stdout and "CPUExecutionProvider" in result.stdout


def test_profile_step_prints_where_a_step_spends_its_time():
    result = run("bench/profile_step.py", "--quick", "--family", "wgan-gp")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "wall per step" in result.stdout and "img/s" in result.stdout
    assert "aten::" in result.stdout  # the operator table


def test_train_speed_measures_each_technique_that_runs_on_the_cpu():
    result = run("bench/train_speed.py", "--quick", "--families", "dcgan,stylegan2",
                 "--variants", "eager+read1,eager+fused,eager+channels_last,eager+bf16,eager+hostdata")
    assert result.returncode == 0, result.stderr[-2000:]
    for variant in ("eager+read1", "eager+fused", "eager+channels_last", "eager+bf16", "eager+hostdata"):
        assert any(line.startswith(f"stylegan2 ({variant})") and "img/s" in line
                   for line in result.stdout.splitlines()), variant


def test_step_flops_counts_every_family_including_double_backward():
    result = run("bench/step_flops.py", "--quick", "--families", "dcgan,wgan-gp,stylegan2")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {line.split()[0]: float(line.split()[3]) for line in result.stdout.splitlines()[1:]}
    assert set(rows) == {"dcgan", "wgan-gp", "stylegan2"} and all(v > 0 for v in rows.values())


def test_startup_prints_when_the_splash_the_window_and_the_first_faces_came():
    result = run("bench/startup.py", "--repeats", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    times = {line.rsplit(None, 2)[0].strip(): float(line.split()[-2]) for line in result.stdout.splitlines()[1:]}
    assert list(times) == ["splash screen shown", "main window shown", "first demo faces in Generate"]
    assert times["splash screen shown"] < times["main window shown"] < times["first demo faces in Generate"]


def test_export_speed_times_both_gif_writers_on_both_animations():
    result = run("bench/export_speed.py", "--quick")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines()[1:] if line.strip()]
    assert len(rows) == 4 and all(float(row.split()[-2]) > 0 for row in rows)
    assert sum("the studio's" in row for row in rows) == 2


def test_copies_speed_times_both_checks_and_finds_each_face_itself():
    result = run("bench/copies_speed.py", "--n", "300", "--faces", "16", "--holdout", "100")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "16 of 16 found a pixel-for-pixel match first" in result.stdout
    assert "find duplicates: 300 images, every pair" in result.stdout and "peak memory" in result.stdout
    # the demo faces have twins (a face on another background): the held-out ones' twins are left out of training
    [line] = [line for line in result.stdout.splitlines() if line.startswith("held-out copies")]
    left_out, train = map(int, re.search(r" s: (\d+) training images left out, .*; (\d+) train$", line).groups())
    assert left_out > 0 and left_out + train == 200


def test_projection_quality_quick_prints_a_row_per_model_and_set():
    result = run("bench/projection_quality.py", "--quick")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = result.stdout.splitlines()[1:]
    assert [(row.split()[0], "its own" in row) for row in rows] == [
        ("dcgan-tutorial.onnx", False), ("dcgan-tutorial.onnx", True), ("stylegan2.onnx", False),
        ("stylegan2.onnx", True)]
    for row in rows:
        seed, found = map(float, row.split()[-3:-1])
        assert found < seed  # the face found is nearer than the closest seed's face


def test_edit_directions_prints_their_time_and_how_much_they_change_faces():
    result = run("bench/edit_directions.py", "--no-fresh", "--repeats", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "directions s" in lines[0] and "edit ms" in lines[0] and "random" in lines[0]
    assert [line.split()[0] for line in lines[1:]] == ["dcgan-tutorial.onnx", "stylegan2.onnx"]
