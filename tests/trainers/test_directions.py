"""Faces edited along the directions in which a model's faces vary most (trainers/directions.py), on the demo models
(trained: their faces vary as a trained model's do) and a tiny checkpoint."""

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import faces_folder, tiny_config
from trainers import directions as dirs
from trainers.explore import found_face, latent_faces, latent_metadata, styles_of
from trainers.images import save_image
from trainers.inference import ImageSetModel, ModelError, OnnxGenerator, TorchGenerator

DEMO = Path(__file__).parents[2] / "resources" / "demo"


@pytest.fixture(scope="module")
def demo():
    return {name: OnnxGenerator(DEMO / f"{name}.onnx", "cpu") for name in ("dcgan-tutorial", "stylegan2")}


@pytest.fixture(scope="module")
def found(demo):
    return {name: dirs.principal_directions(model) for name, model in demo.items()}


def test_the_first_directions_account_for_the_most_variation_and_are_the_same_each_time(demo, found):
    for name, model in demo.items():
        d = found[name]
        assert d.space == ("w" if model.info.style_based else "z")
        assert d.vectors.shape == (dirs.COUNT, model.info.w_dim if model.info.style_based else model.info.z_dim)
        assert np.allclose(np.linalg.norm(d.vectors, axis=1), 1, atol=1e-5)
        assert (np.diff(d.share) <= 0).all() and 0 < d.share.sum() <= 1 and d.share[0] > 0.1
        assert (d.spread > 0).all()
    again = dirs.principal_directions(demo["dcgan-tutorial"])
    assert np.array_equal(again.vectors, found["dcgan-tutorial"].vectors)


@pytest.mark.parametrize("name", ["dcgan-tutorial", "stylegan2"])
@pytest.mark.parametrize("k", [0, 1])
def test_moving_along_a_direction_changes_faces_the_same_way_whatever_the_face(demo, found, name, k):
    # What a user sees on a slider: every face changes in the same way along it (the change from -2 to +2 points the
    # same way in pixels for different faces), step by step, and visibly.
    model, d = demo[name], found[name]
    amounts = [-2.0, -1.0, 0.0, 1.0, 2.0]
    features = []
    for seed in (5_000, 5_001, 5_002, 5_003):
        start = dirs.base_latent(model, seed)
        latents = np.stack([dirs.edited(d, start, {k: a}) for a in amounts])
        faces = latent_faces(model, "ws" if model.info.style_based else "z", latents)
        assert np.array_equal(faces[2], model.generate([seed])[0])  # 0 is the face itself
        features.append(dirs.pixel_features(faces).astype(np.float64))
    change = np.array([f[-1] - f[0] for f in features])  # [faces, pixels]
    unit = change / np.linalg.norm(change, axis=1, keepdims=True)
    assert (unit @ unit.T)[np.triu_indices(len(unit), 1)].min() > 0.2  # the same way (measured: 0.22 to 0.87)
    assert (np.sqrt((change**2).mean(1)) > 0.05).all()  # by 5% of the pixels' range or more (measured: 15% to 42%)
    steps = np.array([np.diff(f @ change.mean(0)) for f in features])
    assert (steps > 0).mean() >= 0.85  # further at (nearly) every step (measured: 15 or 16 steps of 16)


@pytest.mark.parametrize("name", ["dcgan-tutorial", "stylegan2"])
def test_the_first_directions_change_faces_far_more_than_random_ones(demo, found, name):
    # The point of the directions: moved as far in the latent space, a face changes much more along them than along
    # a random direction (measured on 16 faces, in RMS of the 16 px pixels: DCGAN 0.17-0.19 against 0.03-0.05;
    # StyleGAN2 0.20-0.27 against 0.07-0.14).
    model, d = demo[name], found[name]
    space = "ws" if model.info.style_based else "z"
    starts = [dirs.base_latent(model, seed) for seed in range(5_000, 5_016)]

    def change(vector: np.ndarray) -> float:
        one = dirs.Directions(d.space, vector[None].astype(np.float32), d.spread[:1], d.share[:1])
        faces = [latent_faces(model, space, np.stack([dirs.edited(one, s, [a]) for a in (-1.0, 1.0)])) for s in starts]
        return float(np.mean([np.sqrt(np.square(np.diff(dirs.pixel_features(f), axis=0)).mean()) for f in faces]))

    rng = np.random.default_rng(0)
    random = [change(v / np.linalg.norm(v)) for v in rng.standard_normal((8, d.vectors.shape[1]))]
    first = [change(d.vectors[k]) for k in range(2)]
    assert min(first) > max(random) and np.mean(first) > 1.8 * np.mean(random), (first, random)


def test_an_edit_of_some_stylegan2_layers_leaves_the_others_and_adds_its_spread(demo, found):
    model, d = demo["stylegan2"], found["stylegan2"]
    start = dirs.base_latent(model, 7, truncation=0.7)
    assert np.array_equal(start, styles_of(model, [7], 0.7)[0])
    coarse = model.info.layers["coarse"]
    moved = dirs.edited(d, start, {1: 1.5}, coarse)
    others = [i for i in range(model.info.num_ws) if i not in coarse]
    assert np.array_equal(moved[others], start[others])
    assert np.allclose((moved[coarse] - start[coarse]) @ d.vectors[1], 1.5 * d.spread[1], atol=1e-4)
    assert not np.array_equal(model.synthesize(moved[None]), model.synthesize(start[None]))


def test_amounts_past_the_limit_and_directions_not_offered_are_refused(found):
    d = found["dcgan-tutorial"]
    start = np.zeros(d.vectors.shape[1], np.float32)
    with pytest.raises(ValueError, match="amounts go from -5 to 5"):
        dirs.edited(d, start, {0: 7})
    with pytest.raises(ValueError, match="directions 1 to 8"):
        dirs.edited(d, start, {8: 1})
    assert dirs.describe_edit({0: 1.5, 2: -2}, "coarse", "seed 7") == "seed 7: direction 1 +1.5, direction 3 -2 " \
                                                                       "(coarse styles)"
    assert dirs.describe_edit({1: 1}, earlier="seed 7: direction 1 +1.5") == \
        "seed 7: direction 1 +1.5, then direction 2 +1"


def test_a_set_of_images_has_no_directions(tmp_path):
    from trainers.data import load_folder

    with pytest.raises(ModelError, match="no latent space"):
        dirs.principal_directions(ImageSetModel(load_folder(faces_folder(tmp_path, n=3, size=32), 32)))


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_an_edited_face_saved_with_its_layers_ws_is_made_again_exactly(demo, found, tmp_path, suffix):
    model, d = demo["stylegan2"], found["stylegan2"]
    latent = dirs.edited(d, dirs.base_latent(model, 3), {2: 2.0}, model.info.layers["middle"])
    face = model.synthesize(latent[None])[0]
    edit = dirs.describe_edit({2: 2.0}, "middle", "seed 3")
    save_image(tmp_path / f"edited{suffix}", face.transpose(1, 2, 0), latent_metadata(model, "ws", latent, edit=edit))
    record = found_face(tmp_path / f"edited{suffix}")
    assert record.space == "ws" and record.edit == edit and record.picture == ""
    assert record.seeds_text() == "an edited face (seed 3: direction 3 +2 (middle styles))"
    assert np.array_equal(record.latent, latent)
    assert np.array_equal(latent_faces(model, "ws", record.latent[None])[0], face)
    # its ws walk and mix as any face's
    assert np.array_equal(styles_of(model, [record.latent, 3])[0], latent)


def test_a_checkpoint_edits_in_z_through_torch(tmp_path):
    data = faces_folder(tmp_path, n=8, size=32)
    from trainers.loop import train

    list(train(tiny_config("dcgan", data, tmp_path / "run", steps=2)))
    model = TorchGenerator(tmp_path / "run", "cpu")
    d = dirs.principal_directions(model, count=3)
    assert d.vectors.shape == (3, model.info.z_dim)
    start = dirs.base_latent(model, 11)
    assert np.array_equal(start, model.latents([11])[0])
    sheet, faces = dirs.edit_sheet(model, d, start, [0, 2], amounts=(-1.0, 0.0, 1.0))
    assert faces.shape == (2, 3, 3, 32, 32) and sheet.ndim == 3
    assert np.array_equal(faces[0, 1], model.generate([11])[0]) and np.array_equal(faces[1, 1], faces[0, 1])
    assert not np.array_equal(faces[0, 0], faces[0, 2])


def test_a_jpeg_record_keeps_a_path_with_a_semicolon_and_older_records_still_read(demo, tmp_path):
    from PIL import Image

    from trainers.explore import face_origin

    model = demo["dcgan-tutorial"]
    z = model.latents([4])[0]
    picture = "/photos/me; my sister/portrait.png"
    save_image(tmp_path / "found.jpg", model.generate([4])[0].transpose(1, 2, 0),
               latent_metadata(model, "z", z, picture, distance=0.5))
    record = found_face(tmp_path / "found.jpg")
    assert record.picture == picture and np.array_equal(record.latent, z)
    # A JPEG saved before the record's fields went on lines of their own ("key: value; key: value").
    Image.new("RGB", (8, 8)).save(tmp_path / "old.jpg", comment=b"seed: 12; truncation: 0.7; model: /m/sg.onnx; "
                                                                b"family: stylegan2; step: 5; software: GAN Studio")
    assert face_origin(tmp_path / "old.jpg")[:4] == ("/m/sg.onnx", 12, 1, 0.7)
