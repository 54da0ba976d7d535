"""Finding a model's face most like a picture (trainers/projection.py), on tiny models."""

import base64

import numpy as np
import pytest
import torch

from tests.helpers import faces_folder, tiny_config
from trainers import projection
from trainers.explore import latent_metadata
from trainers.inference import ImageSetModel, ModelError, OnnxGenerator, TorchGenerator
from trainers.loop import train

TARGET_SEED = 123_456  # a face the models can make exactly, far outside the seeds searched first


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from trainers.checkpoint import load_checkpoint, resolve_checkpoint
    from trainers.export import export_onnx

    root = tmp_path_factory.mktemp("projection")
    data = faces_folder(root, n=8, size=32)
    out = {}
    for family, extra in (("dcgan", {}), ("stylegan2", {"z_dim": 32})):
        list(train(tiny_config(family, data, root / family, steps=2, **extra)))
        out[family] = root / family
    # Two steps leave the DCGAN's faces a nearly flat grey, much alike whatever the seed; its last layer, made
    # stronger, makes faces that differ as a trained model's do.
    checkpoint = resolve_checkpoint(root / "dcgan")
    state = load_checkpoint(checkpoint)
    last = [k for k in state["models"]["G"] if k.startswith("body.") and k.endswith(".weight")][-1]
    state["models"]["G"][last] *= 30
    torch.save(state, checkpoint)
    export_onnx(root / "dcgan", root / "dcgan.onnx", log=lambda m: None)
    out["dcgan.onnx"] = root / "dcgan.onnx"
    return out


@pytest.mark.parametrize("which", ["dcgan", "stylegan2", "dcgan.onnx"])
def test_a_face_the_model_can_make_is_found_much_closer_than_the_nearest_seeds_face(models, which):
    model = TorchGenerator(models[which], "cpu") if which != "dcgan.onnx" else OnnxGenerator(models[which], "cpu")
    picture = model.generate([TARGET_SEED])[0]
    found = projection.find_face(model, picture, steps=40, search=64)
    assert 0 <= found.seed < 64
    assert found.seed_distance > 0.15  # the closest of the seeds searched is visibly another face
    assert found.distance < 0.75 * found.seed_distance, (found.distance, found.seed_distance)
    # the latent makes the face reported
    if found.space == "w":
        assert found.latent.shape == (model.info.num_ws, model.info.w_dim)
        assert np.array_equal(model.synthesize(found.latent[None])[0], found.face)
        assert np.allclose(found.latent, found.latent[:1])  # one w on every layer: it walks and mixes as any face
    else:
        assert found.latent.shape == (model.info.z_dim,)
        assert np.array_equal(model.generate(z=found.latent[None])[0], found.face)
    assert np.array_equal(found.seed_face, model.generate([found.seed])[0])
    assert found.distance == pytest.approx(projection.copy_distance(found.face, picture))


def test_the_search_is_the_same_for_the_same_seed_and_leaves_the_model_as_it_was(models):
    model = TorchGenerator(models["stylegan2"], "cpu")
    weights = {k: v.clone() for k, v in model.g.state_dict().items()}
    picture = model.generate([TARGET_SEED])[0]
    a = projection.find_face(model, picture, steps=10, search=16)
    b = projection.find_face(model, picture, steps=10, search=16)
    assert np.array_equal(a.latent, b.latent) and a.distance == b.distance
    assert all(torch.equal(weights[k], v) for k, v in model.g.state_dict().items())
    assert all(p.grad is None for p in model.g.parameters())


def test_progress_counts_to_its_total_and_an_exception_in_it_stops_the_search(models):
    model = TorchGenerator(models["dcgan"], "cpu")
    picture = model.generate([TARGET_SEED])[0]
    calls = []
    projection.find_face(model, picture, steps=5, search=130, each=lambda done, total, face: calls.append(
        (done, total, face.shape)))
    assert [c[0] for c in calls] == list(range(1, 9)) and {c[1] for c in calls} == {3 + 5}  # 3 batches of seeds
    assert {c[2] for c in calls} == {(3, 32, 32)}

    def stop(done, total, face):
        if done == 4:
            raise InterruptedError("cancelled")

    with pytest.raises(InterruptedError):
        projection.find_face(model, picture, steps=50, search=64, each=stop)


def test_wrong_pictures_and_models_without_a_latent_space_are_refused(models, tmp_path):
    model = TorchGenerator(models["dcgan"], "cpu")
    with pytest.raises(ValueError, match=r"\[3, 32, 32\]"):
        projection.find_face(model, np.zeros((3, 64, 64), np.uint8))
    images = ImageSetModel(__import__("trainers.data", fromlist=["load_folder"]).load_folder(
        faces_folder(tmp_path, n=3, size=32), 32))
    with pytest.raises(ModelError, match="no latent space"):
        projection.find_face(images, np.zeros((3, 32, 32), np.uint8))


def test_a_picture_is_cropped_and_resized_as_training_images_are_and_the_record_holds_the_latent(models, tmp_path):
    from PIL import Image

    model = TorchGenerator(models["stylegan2"], "cpu")
    wide = Image.new("RGB", (90, 60), (200, 30, 30))
    wide.paste((30, 30, 200), (0, 0, 6, 60))  # a blue band on the left, cropped away
    wide.save(tmp_path / "wide.png")
    picture = projection.picture_for(model, (tmp_path / "wide.png").read_bytes())
    assert picture.shape == (3, 32, 32) and (picture[:, :, 0] == [[200], [30], [30]]).all()
    found = projection.find_face(model, picture, steps=2, search=8)
    text = latent_metadata(model, found.space, found.key, str(tmp_path / "wide.png"), found.distance)
    assert text["found-for"] == str(tmp_path / "wide.png") and text["space"] == "w"
    w = np.frombuffer(base64.b64decode(text["latent"]), "<f4")
    assert np.array_equal(w, found.latent[0]) and float(text["distance"]) == pytest.approx(found.distance, abs=1e-4)
