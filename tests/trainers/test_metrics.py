"""Quality metrics: SWD orders sets sensibly, FID's arithmetic, the Inception path with a local weights file."""

import json
import pickle
import urllib.error

import numpy as np
import pytest
import torch

from tests.helpers import random_inception_weights
from trainers.cli import main
from trainers.demo_faces import demo_faces, write_demo_folder
from trainers.metrics import MetricError, evaluate, fid_from_features, floor_pair, swd


@pytest.fixture(scope="module")
def faces():
    return demo_faces(384, 32)


def blurred(images: np.ndarray) -> np.ndarray:
    x = torch.nn.functional.avg_pool2d(torch.from_numpy(images).float(), 4)
    return torch.nn.functional.interpolate(x, scale_factor=4, mode="bilinear").round().clamp(0, 255).byte().numpy()


def test_swd_of_two_halves_is_far_below_blur_and_noise(faces):
    a, b = faces[:192], faces[192:]
    noise = np.random.default_rng(0).integers(0, 256, a.shape, dtype=np.uint8)
    same, blur, rand = swd(a, b)["SWD"], swd(a, blurred(b))["SWD"], swd(a, noise)["SWD"]
    assert same * 3 < blur < rand
    assert set(swd(a, b)) == {"SWD", "SWD/32", "SWD/16"}


def test_swd_is_deterministic_for_a_seed(faces):
    a, b = faces[:100], faces[100:200]
    assert swd(a, b, seed=3) == swd(a, b, seed=3)
    assert swd(a, b, seed=3) != swd(a, b, seed=4)



def test_swd_reports_its_progress_and_a_cancel_raised_there_ends_it(faces):
    a, b = faces[:200], faces[200:]
    calls = []
    assert swd(a, b, batch=64, progress=lambda done, total: calls.append((done, total))) == swd(a, b, batch=64)
    assert calls == [(k, 8) for k in range(1, 9)]  # 3 batches of patches per set (184 faces), then 2 levels

    class Cancelled(Exception):
        pass

    def cancel_at_the_first_level(done, total):
        if done == 7:
            raise Cancelled()

    with pytest.raises(Cancelled):
        swd(a, b, batch=64, progress=cancel_at_the_first_level)


def test_a_stop_while_a_training_score_is_computed_drops_the_score(tmp_path):
    """The faces are made first (a stop there was already honoured), then SWD: a stop during it counts too."""
    from tests.helpers import faces_folder, tiny_config
    from trainers.families import build_recipe
    from trainers.loop import _score

    config = tiny_config("dcgan", faces_folder(tmp_path), tmp_path / "run")
    recipe = build_recipe(config, "cpu")
    reference = demo_faces(100, 32)
    asked = []

    def stop_once_the_faces_are_made():  # 2 batches of 64 faces, then SWD's first batch of patches
        asked.append(1)
        return len(asked) > 2

    assert _score(recipe, reference, config, 4, 16, stop_once_the_faces_are_made) is None
    assert len(asked) == 3
    scored = _score(recipe, reference, config, 4, 16, lambda: False)
    assert scored is not None and scored.n == 100 and scored.scores["SWD"] > 0

def test_fid_matches_the_closed_form_for_two_gaussians():
    rng = np.random.default_rng(0)
    mu1, mu2 = np.zeros(6), np.array([1.0, -0.5, 0, 0, 2.0, 0])
    s1, s2 = np.array([1.0, 2.0, 0.5, 1.0, 1.0, 3.0]), np.array([2.0, 1.0, 0.5, 4.0, 1.0, 1.0])
    a = rng.standard_normal((200_000, 6)) * np.sqrt(s1) + mu1
    b = rng.standard_normal((200_000, 6)) * np.sqrt(s2) + mu2
    closed = ((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum()
    assert fid_from_features(a, b) == pytest.approx(closed, rel=0.02)
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-6)


@pytest.fixture
def random_inception(tmp_path, monkeypatch):
    return random_inception_weights(tmp_path / "inception.pth", monkeypatch)


def test_fid_and_kid_run_end_to_end_with_a_local_weights_file(faces, random_inception):
    a, b = faces[:16], faces[16:32]
    first = evaluate(a, b, ["fid", "kid"], inception=str(random_inception))
    assert np.isfinite(first["FID"]) and np.isfinite(first["KID"])
    again = evaluate(a, b, ["fid", "kid"], inception=str(random_inception))  # real features from the cache
    assert again == first


def test_a_weights_file_with_code_is_refused(tmp_path, faces):
    class Payload:
        def __reduce__(self):
            return (print, ("owned",))

    bad = tmp_path / "inception.pth"
    bad.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(MetricError, match="refused"):
        evaluate(faces[:8], faces[8:16], ["fid"], inception=str(bad))


def test_offline_without_weights_says_which_file_to_get(tmp_path, faces, monkeypatch):
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(fe, "load_state_dict_from_url", offline)
    with pytest.raises(MetricError, match="weights-inception-2015-12-05-6726825d.pth"):
        evaluate(faces[:8], faces[8:16], ["kid"])


def test_eval_ranks_real_above_blurred_above_noise(tmp_path, capsys):
    real = tmp_path / "real"
    write_demo_folder(real, 160, size=64)
    held = tmp_path / "held"
    write_demo_folder(held, 80, size=64, first_seed=1000)
    blur, noise = tmp_path / "blur", tmp_path / "noise"
    from PIL import Image

    imgs = demo_faces(80, 64, first_seed=1000)
    for folder, images in ((blur, blurred(imgs)),
                           (noise, np.random.default_rng(1).integers(0, 256, imgs.shape, dtype=np.uint8))):
        folder.mkdir()
        for i, img in enumerate(images):
            Image.fromarray(img.transpose(1, 2, 0)).save(folder / f"{i:03d}.png")
    out = tmp_path / "scores.json"
    assert main(["eval", str(held), str(blur), str(noise), "--real", str(real), "--n", "80", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "SWD" in table and "held" in table
    scores = {r["model"].split("/")[-1]: r["SWD"] for r in json.loads(out.read_text())["results"]}
    assert scores["held"] < scores["blur"] < scores["noise"]
    assert main(["eval", str(held), "--real", str(real), "--metric", "psnr"]) == 2

    # DATA against itself: real images against other real images of DATA (the floor), never against themselves
    assert main(["eval", str(real), "--real", str(real), "--n", "80", "--json", str(out)]) == 0
    row, = json.loads(out.read_text())["results"]
    assert "floor" in row["kind"] and row["n"] == 80 and 0.5 * scores["held"] < row["SWD"] < scores["blur"]
    assert main(["eval", str(real), "--real", str(real), "--real-last", "40", "--n", "80", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["results"][0]["n"] == 40  # the last 40 against 40 of the others


def test_the_floor_pairs_disjoint_sets_of_real_images():
    pick = np.arange(0, 100, 4)  # 25 of 100: as many others exist, so the models' 25 meet 25 others
    ours, others = floor_pair(100, pick)
    assert np.array_equal(ours, pick) and len(others) == 25 and not set(others) & set(pick)
    ours, others = floor_pair(30, np.arange(20))  # too few others: the 30 split into two halves of 15
    assert len(ours) == len(others) == 15 and not set(ours) & set(others)
    assert np.array_equal(floor_pair(30, np.arange(20))[1], others)  # the same split every time
