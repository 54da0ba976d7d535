"""ONNX export with enforced parity, self-describing files, and the inference engine on top."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from tests.helpers import faces_folder, tiny_config
from trainers.checkpoint import CheckpointError, save_checkpoint
from trainers.cli import main
from trainers.export import ExportError, export_onnx
from trainers.inference import ModelError, OnnxGenerator, TorchGenerator, open_model
from trainers.loop import train

FAMILIES = ["dcgan", "dcgan-tutorial", "wgan-clip", "wgan-gp", "stylegan2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny trained run per family, shared by the tests below."""
    root = tmp_path_factory.mktemp("runs")
    data = faces_folder(root, n=8, size=32)
    out = {}
    for family in FAMILIES:
        extra = {"z_dim": 32} if family == "stylegan2" else {}
        config = tiny_config(family, data, root / family, steps=2, **extra)
        list(train(config))
        out[family] = root / family
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_export_parity_and_metadata(family, runs, tmp_path):
    result = export_onnx(runs[family], tmp_path / "g.onnx", log=lambda m: None)
    assert result.max_abs_diff < 1e-4
    model = onnx.load(str(tmp_path / "g.onnx"))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["family"] == family and meta["resolution"] == "32" and meta["step"] == "2"
    assert int(meta["images_seen"]) > 0 and meta["project_version"]
    # A plain onnxruntime session, knowing nothing of the project, gets images of the right shape and range.
    session = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    z_dim = int(meta["z_dim"])
    if family == "stylegan2":
        num_ws, w_dim = int(meta["num_ws"]), int(meta["w_dim"])
        assert len(json.loads(meta["w_avg"])) == w_dim
        ws = session.run(["ws_out"], {"z": np.random.randn(3, z_dim).astype(np.float32),
                                      "ws": np.zeros((0, num_ws, w_dim), np.float32)})[0]
        assert ws.shape == (3, num_ws, w_dim)
        image = session.run(["image"], {"z": np.zeros((0, z_dim), np.float32), "ws": ws})[0]
        again = session.run(["image"], {"z": np.zeros((0, z_dim), np.float32), "ws": ws})[0]
        assert np.array_equal(image, again)  # fixed noise: the same ws, the same face
    else:
        image = session.run(["image"], {"z": np.random.randn(5, z_dim).astype(np.float32)})[0]
    assert image.shape[1:] == (3, 32, 32) and np.abs(image).max() <= 1.0 + 1e-5


def test_a_failed_parity_check_leaves_no_file(runs, tmp_path, monkeypatch):
    import trainers.export as export

    monkeypatch.setattr(export, "check_parity", lambda recipe, path: 0.5)
    with pytest.raises(ExportError, match="differs"):
        export_onnx(runs["dcgan"], tmp_path / "g.onnx", log=lambda m: None)
    assert list(tmp_path.iterdir()) == []


def test_onnx_and_torch_engines_agree_on_faces_truncation_and_mixing(runs, tmp_path):
    export_onnx(runs["stylegan2"], tmp_path / "sg.onnx", log=lambda m: None)
    onnx_model, torch_model = open_model(tmp_path / "sg.onnx"), open_model(runs["stylegan2"], provider="cpu")
    assert isinstance(onnx_model, OnnxGenerator) and isinstance(torch_model, TorchGenerator)
    assert onnx_model.info.provider == "CPUExecutionProvider"  # no GPU here: the CPU fallback is what runs
    assert onnx_model.info.layers == torch_model.info.layers and onnx_model.info.num_ws == 8
    np.testing.assert_allclose(onnx_model.info.w_avg, torch_model.info.w_avg, atol=1e-6)
    seeds = [3, 4, 5]
    for psi in (1.0, 0.5):
        a = onnx_model.generate(seeds, truncation=psi).astype(int)
        b = torch_model.generate(seeds, truncation=psi).astype(int)
        assert np.abs(a - b).max() <= 1
    rows, cols = onnx_model.map(onnx_model.latents([1, 2])), onnx_model.map(onnx_model.latents([7, 8, 9]))
    mixed = onnx_model.style_mix(rows, cols, onnx_model.info.layers["coarse"])
    assert mixed.shape == (6, 8, 64)
    assert np.abs(onnx_model.synthesize(mixed).astype(int) - torch_model.synthesize(mixed).astype(int)).max() <= 1
    # A row mixed with itself reproduces that face.
    same = onnx_model.style_mix(rows[:1], rows[:1], onnx_model.info.layers["coarse"])
    assert np.array_equal(onnx_model.synthesize(same), onnx_model.synthesize(rows[:1]))


def test_dcgan_engine_and_seeds(runs, tmp_path):
    export_onnx(runs["dcgan"], tmp_path / "d.onnx", log=lambda m: None)
    model = open_model(tmp_path / "d.onnx")
    faces = model.generate([0, 1, 2])
    assert faces.shape == (3, 3, 32, 32) and faces.dtype == np.uint8
    assert np.array_equal(model.generate([1]), faces[1:2])
    reported = []  # many seeds, a batch at a time: the same faces, and where it is after each batch
    assert np.array_equal(model.generate_many([0, 1, 2], batch=2, each=lambda *a: reported.append(a)), faces)
    assert reported == [(2, 3), (3, 3)]
    with pytest.raises(ModelError, match="StyleGAN2"):
        model.generate([1], truncation=0.5)
    with pytest.raises(ModelError, match="StyleGAN2"):
        model.map(model.latents([1]))


def test_bad_model_files_are_clear_errors(runs, tmp_path):
    export_onnx(runs["dcgan"], tmp_path / "good.onnx", log=lambda m: None)
    data = (tmp_path / "good.onnx").read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match="cut.onnx.*not a readable ONNX"):
        open_model(tmp_path / "cut.onnx")
    (tmp_path / "text.onnx").write_text("hello")
    with pytest.raises(ModelError, match="text.onnx"):
        open_model(tmp_path / "text.onnx")
    foreign = tmp_path / "foreign.onnx"
    torch.onnx.export(torch.nn.Linear(4, 2), (torch.randn(1, 4),), str(foreign), input_names=["x"], dynamo=False)
    with pytest.raises(ModelError, match="without GAN Studio's metadata"):
        open_model(foreign)
    # Right metadata, wrong graph: unexpected inputs.
    model = onnx.load(str(foreign))
    for key, value in {"format": "gan-studio-generator", "family": "dcgan", "z_dim": "4", "resolution": "32"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(tmp_path / "odd.onnx"))
    with pytest.raises(ModelError, match="inputs"):
        open_model(tmp_path / "odd.onnx")


def test_checkpoint_of_an_unknown_family_is_a_clear_error(tmp_path):
    save_checkpoint(tmp_path / "run", {"config": {"model": "biggan", "z_dim": 10}, "models": {}, "step": 1}, 1)
    with pytest.raises(ModelError, match="biggan"):
        open_model(tmp_path / "run")
    with pytest.raises(CheckpointError, match="biggan"):
        export_onnx(tmp_path / "run", tmp_path / "x.onnx")


def test_export_and_sample_from_the_command_line(runs, tmp_path, capsys):
    assert main(["export", str(runs["wgan-gp"]), "--out", str(tmp_path / "w.onnx")]) == 0
    assert "parity with torch" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "w.onnx"), "--n", "4", "--out", str(tmp_path / "faces") + "/"]) == 0
    assert len(list((tmp_path / "faces").iterdir())) == 4
    assert main(["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "n.onnx")]) == 2


def test_bare_safetensors_weights_are_a_clear_error_even_with_an_oversized_header(tmp_path):
    huge = tmp_path / "weights.safetensors"
    huge.write_bytes((2**62).to_bytes(8, "little") + b"{}")
    with pytest.raises(ModelError, match="bare weights"):
        open_model(huge)


def test_interpolate_and_style_mix_from_the_command_line(runs, tmp_path, capsys):
    def face(seed):  # the face `sample` draws for a seed, [H, W, 3]
        out = tmp_path / f"seed{seed}"
        assert main(["sample", str(runs["stylegan2"]), "--n", "1", "--seed", str(seed), "--out", str(out) + "/",
                     "--device", "cpu"]) == 0
        return np.asarray(Image.open(next(out.iterdir())).convert("RGB"))

    for method in ("slerp", "w"):
        frames_dir = tmp_path / f"walk-{method}"
        assert main(["interpolate", str(runs["stylegan2"]), "--seeds", "3,7", "--frames", "8", "--method", method,
                     "--out", str(frames_dir), "--device", "cpu"]) == 0
        frames = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(frames_dir.iterdir())]
        assert len(frames) == 8
        # the walk starts on seed 3's face and ends on seed 7's, through faces in between
        assert np.abs(frames[0].astype(int) - face(3)).max() <= 1 and np.abs(frames[-1].astype(int) - face(7)).max() <= 1
        assert not np.array_equal(frames[3], frames[0]) and not np.array_equal(frames[3], frames[-1])
    # the same walk from the two faces, saved by `sample`: their model, at their seeds
    saved = [str(next((tmp_path / f"seed{seed}").iterdir())) for seed in (3, 7)]
    assert main(["interpolate", *saved, "--frames", "8", "--method", "w", "--out", str(tmp_path / "from-faces"),
                 "--device", "cpu"]) == 0
    assert "was made by " + str(runs["stylegan2"]) in capsys.readouterr().err
    again = [np.asarray(Image.open(p).convert("RGB")) for p in sorted((tmp_path / "from-faces").iterdir())]
    assert len(again) == 8 and all(np.array_equal(a, b) for a, b in zip(again, frames))
    assert main(["sample", str(runs["dcgan"]), "--n", "1", "--out", str(tmp_path / "dcgan") + "/"]) == 0
    other = str(next((tmp_path / "dcgan").iterdir()))
    for wrong, message in (([*saved, other], "were made by different models"),
                           ([*saved, "--seeds", "1,2"], "or faces saved by GAN Studio (and no --seeds)"),
                           ([str(runs["stylegan2"])], "give one model and --seeds")):
        assert main(["interpolate", *wrong, "--out", str(tmp_path / "never.gif")]) == 2
        assert message in capsys.readouterr().err and not (tmp_path / "never.gif").exists()
    # a second walk into a folder of frames would mix the two sequences: refused, with exit code 2
    before = sorted(p.read_bytes() for p in frames_dir.iterdir())
    assert main(["interpolate", str(runs["stylegan2"]), "--seeds", "1,2", "--frames", "4", "--out", str(frames_dir),
                 "--device", "cpu"]) == 2
    assert "already holds 8 frames" in capsys.readouterr().err
    assert sorted(p.read_bytes() for p in frames_dir.iterdir()) == before
    gif = tmp_path / "loop.gif"
    assert main(["interpolate", str(runs["stylegan2"]), "--seeds", "1,2,3", "--frames", "12", "--loop", "--scale", "2",
                 "--out", str(gif), "--device", "cpu"]) == 0
    with Image.open(gif) as im:
        assert im.n_frames == 12 and im.size == (64, 64)

    grid = tmp_path / "mix.png"
    assert main(["style-mix", str(runs["stylegan2"]), "--rows", "1,2", "--columns", "5,6,7", "--styles", "coarse",
                 "--out", str(grid), "--device", "cpu"]) == 0
    image = Image.open(grid)
    pixels = np.asarray(image.convert("RGB")).astype(int)
    assert pixels.shape == (3 * 32, 4 * 32, 3)
    assert np.abs(pixels[:32, 32:64] - face(5)).max() <= 1  # column seeds along the top
    assert np.abs(pixels[32:64, :32] - face(1)).max() <= 1  # row seeds down the left
    assert image.text["layers"] == "0-3"
    # from the faces saved for seeds 3 and 7: each one's styles over each other one's face
    assert main(["style-mix", *saved, "--out", str(tmp_path / "mix-faces.png"), "--device", "cpu"]) == 0
    mixed = np.asarray(Image.open(tmp_path / "mix-faces.png").convert("RGB")).astype(int)
    assert mixed.shape == (3 * 32, 3 * 32, 3) and np.abs(mixed[:32, 32:64] - face(3)).max() <= 1
    assert np.abs(mixed[32:64, 32:64] - face(3)).max() <= 1  # seed 3 mixed with itself is seed 3
    assert "rows 3,7 give ws layers 0-3 (coarse) to columns 3,7" in capsys.readouterr().out
    assert main(["style-mix", *saved, "--rows", "1", "--out", str(tmp_path / "never.png")]) == 2
    assert "give one model and --rows and --columns, or faces saved by GAN Studio (and no --rows and --columns)" \
        in capsys.readouterr().err
    assert main(["style-mix", str(runs["stylegan2"]), "--rows", "1", "--columns", "5", "--styles", "0-99",
                 "--out", str(grid)]) == 2
    assert "layers are 0 to" in capsys.readouterr().err
    assert main(["style-mix", str(runs["dcgan"]), "--rows", "1", "--columns", "5", "--out", str(grid)]) == 2
    assert "needs a StyleGAN2 model" in capsys.readouterr().err
    assert main(["interpolate", str(runs["dcgan"]), "--seeds", "1,2", "--method", "w", "--out", str(gif)]) == 2
    assert main(["interpolate", str(runs["dcgan"]), "--seeds", "1", "--out", str(gif)]) == 2
    assert "at least two" in capsys.readouterr().err


@pytest.mark.parametrize("path, family, stem, home", [
    ("/r/myrun/checkpoints/step-000001000.pt", "dcgan", "dcgan-myrun-step-000001000", "/r/myrun"),
    ("/r/dcgan/checkpoints/step-000001000.pt", "dcgan", "dcgan-step-000001000", "/r/dcgan"),  # not dcgan-dcgan-…
    ("/m/stylegan2.onnx", "stylegan2", "stylegan2", "/m"),
    ("/m/faces.onnx", "stylegan2", "stylegan2-faces", "/m"),
    ("/m/dcgan-tutorial.onnx", "dcgan-tutorial", "dcgan-tutorial", "/m"),
    ("/m/dcgan-tutorial.onnx", "dcgan", "dcgan-dcgan-tutorial", "/m"),  # a dcgan, not the tutorial's family
])
def test_files_made_from_a_model_are_named_after_its_family_and_run(path, family, stem, home):
    from pathlib import Path

    from trainers.inference import ModelInfo

    info = ModelInfo(path=path, family=family, z_dim=8, resolution=32, step=1000, images_seen=0,
                     training_seconds=0.0, provider="torch (cpu)")
    assert (info.stem, info.home) == (stem, Path(home))


def test_a_set_of_images_shows_one_image_per_seed_and_has_no_latent_space(tmp_path):
    from trainers.data import load_folder
    from trainers.inference import ImageSetModel

    images = load_folder(faces_folder(tmp_path, n=6, size=32), 32, use_cache=False)
    model = ImageSetModel(images)
    assert model.info.path == images.report.folder and model.info.resolution == 32
    faces = model.generate(list(range(8)))
    assert faces.shape == (8, 3, 32, 32) and faces.dtype == np.uint8
    assert sorted(model.index(s) for s in range(6)) == list(range(6))  # every image once in six seeds
    assert np.array_equal(faces[6], faces[0]) and not np.array_equal(faces[1], faces[0])  # then round again
    assert np.array_equal(faces[2], images.images[model.index(2)])
    assert np.array_equal(ImageSetModel(images).generate([3]), faces[3:4])  # the same face for a seed, every time
    for call in (lambda: model.generate(z=np.zeros((1, 4), np.float32)), lambda: model.generate([0], truncation=0.5),
                 lambda: model.map(np.zeros((1, 4), np.float32))):
        with pytest.raises(ModelError):
            call()


def test_nearest_images_finds_a_copy_first_and_orders_the_rest_by_distance():
    from trainers.demo_faces import demo_faces
    from trainers.explore import COPY_DISTANCE, nearest_images, nearest_sheet

    images = demo_faces(40, 32)
    rng = np.random.default_rng(0)
    copies = np.clip(images[[3, 17]].astype(int) + rng.integers(-20, 21, (2, 3, 32, 32)), 0, 255).astype(np.uint8)
    copies[1] = copies[1][..., ::-1]  # and the second one mirrored, as training flips images
    found, distances, mirrored = nearest_images(copies, images, k=4, chunk=16)  # in chunks, as a dataset is read
    assert found[:, 0].tolist() == [3, 17] and (distances[:, 0] < COPY_DISTANCE).all()  # noisy copies, found first
    assert mirrored[:, 0].tolist() == [False, True]
    assert (np.diff(distances, axis=1) >= 0).all() and (distances[:, 1] > 3 * distances[:, 0]).all()
    assert all(len(set(row)) == 4 for row in found.tolist())  # an image once, though it matches both ways
    same, exact, _ = nearest_images(images[:5], images, k=1)
    assert same[:, 0].tolist() == list(range(5)) and (exact < 1e-4).all()  # 0.000 on screen
    assert nearest_images(images[:1], images[:3], k=10)[0].shape == (1, 3)  # no more than there are
    # Faces of another size than the images (a 32 px model, a dataset read at 64 px): compared at the smaller size.
    large = demo_faces(40, 64)
    found, distances, _ = nearest_images(copies, large, k=2)
    assert found[:, 0].tolist() == [3, 17] and (distances[:, 0] < COPY_DISTANCE).all()
    assert nearest_images(large[[5]], images, k=1).index[0, 0] == 5
    sheet = nearest_sheet([3, 17], copies, large, nearest_images(copies, large, k=2))
    assert sheet.shape == (2 * (18 + 64 + 4) + 4, 3 * (64 + 4) + 4, 3)  # shown at the larger size, 64 px
    with pytest.raises(InterruptedError):
        nearest_images(images[:1], images, cancel=lambda: True)


def test_duplicate_pairs_finds_each_copy_once_and_nothing_else():
    from trainers.demo_faces import demo_faces
    from trainers.explore import COPY_DISTANCE, SHIFTED_LINE, _small, duplicate_pairs

    images = demo_faces(21, 32)  # (demo face 23 is face 21 on another background: a copy too)
    rng = np.random.default_rng(1)
    paler = (images[4] * 0.6 + 90).astype(np.uint8)  # brighter and less contrasted, as a faded print
    noisy = np.clip(images[9].astype(int) + rng.integers(-10, 11, images[9].shape), 0, 255).astype(np.uint8)
    mirrored = images[[12]][..., ::-1]
    dataset = np.concatenate([images, images[[4]], paler[None], noisy[None], mirrored])  # 21-24 are copies
    seen = []
    pairs = duplicate_pairs(dataset, progress=lambda done, total: seen.append((done, total)))
    assert sorted((i, j) for i, j, _, _ in pairs) == [(4, 21), (4, 22), (9, 23), (12, 24), (21, 22)]  # each once
    assert [(i, j) for i, j, _, flipped in pairs if flipped] == [(12, 24)]
    distances = [d for _, _, d, _ in pairs]
    assert distances[0] < 1e-3 and distances == sorted(distances)  # closest first
    assert max(distances) < COPY_DISTANCE and seen[-1][0] == seen[-1][1] > 0 and all(a <= b for a, b in seen)
    assert duplicate_pairs(images) == []  # 21 different faces
    # the copies among other images (a held-out set's in its training set): each copy of each image
    cross = duplicate_pairs(dataset[21:], others=images)
    assert sorted((i, j) for i, j, _, _ in cross) == [(0, 4), (1, 4), (2, 9), (3, 12)]
    assert [(i, j) for i, j, _, flipped in cross if flipped] == [(3, 12)]
    assert duplicate_pairs(images[:3], others=images[3:]) == [] and duplicate_pairs(images[:0], others=images) == []
    # cropped a little differently: face 7 shifted by 2 pixels (its left edge repeated), which is far apart as it is
    shifted = np.concatenate([images[7][:, :, :1].repeat(2, 2), images[7][:, :, :-2]], 2)
    plain = float((_small(shifted[None], 32) - _small(images[7:8], 32)).pow(2).mean().sqrt())
    assert plain > COPY_DISTANCE
    [(i, j, d, flipped)] = duplicate_pairs(np.concatenate([images, shifted[None]]), progress=lambda *_: None)
    assert (i, j, flipped) == (7, 21, False) and d < SHIFTED_LINE * COPY_DISTANCE
