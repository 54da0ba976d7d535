"""Shared test helpers: tiny configs and image folders made from the project's own demo faces."""

from __future__ import annotations

from pathlib import Path

from trainers.config import TrainConfig
from trainers.demo_faces import write_demo_folder

# Widths small enough that a few steps of every family take well under a second on a 2-core CPU.
TINY = {
    "dcgan": dict(g_width=32, d_width=8),
    "dcgan-tutorial": dict(g_width=8, d_width=8),
    "wgan-clip": dict(g_width=32, d_width=8),
    "wgan-gp": dict(g_width=32, d_width=8),
    "stylegan2": dict(preset="tiny"),
}


def faces_folder(root: Path, n: int = 24, size: int = 40) -> Path:
    folder = root / "faces"
    write_demo_folder(folder, n, size=size)
    return folder


def tiny_config(model: str, data: Path, out: Path, **overrides) -> TrainConfig:
    values = dict(TINY[model], data=str(data), out=str(out), resolution=32, batch=4, steps=4, device="cpu",
                  log_every=2, sample_every=2, checkpoint_every=2, grid_size=2, n_critic=None)
    if model in ("wgan-clip", "wgan-gp"):
        values["n_critic"] = 2
    values.update(overrides)
    return TrainConfig.for_family(model, **values)


def random_inception_weights(path: Path, monkeypatch) -> Path:
    """A weights file of the Inception network's shape with random values (the real one is 91 MB, not ours)."""
    import torch
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    with monkeypatch.context() as m:
        m.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None)
        m.setattr(fe, "load_state_dict_from_url", lambda *a, **k: {})
        torch.manual_seed(0)
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    torch.save(net.state_dict(), path)
    return path
