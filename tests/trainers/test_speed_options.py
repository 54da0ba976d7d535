"""The speed options train as the plain engine does: CUDA graphs (--cuda-graphs), channels_last, bf16.

The comparisons of graphed against eager steps need a CUDA GPU; they run on the GPU machine
(scripts/gpu_session.sh runs this file there) and are skipped on CI, which has none. channels_last and
bf16 also exist on the CPU, where they are compared here.
"""

from __future__ import annotations

import contextlib

import pytest
import torch

from tests.helpers import faces_folder, tiny_config
from trainers import events as ev
from trainers.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from trainers.data import TensorBatches, load_folder
from trainers.families import build_recipe
from trainers.loop import train
from trainers.nets.stylegan2 import Generator

FAMILIES = ("dcgan", "dcgan-tutorial", "wgan-clip", "wgan-gp", "stylegan2")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU")


def test_graphs_on_the_cpu_are_refused_and_a_run_asking_for_them_trains_eagerly(tmp_path):
    config = tiny_config("dcgan", faces_folder(tmp_path), tmp_path / "run", cuda_graphs=True)
    with pytest.raises(ValueError, match="CUDA device"):
        build_recipe(config, "cpu").use_graphs(True)
    events = list(train(config))
    notices = [e.message for e in events if isinstance(e, ev.Notice)]
    assert any("CUDA graphs need a single CUDA device" in m and "eagerly" in m for m in notices), notices
    assert isinstance(events[-1], ev.Finished) and events[-1].step == config.steps


@pytest.mark.parametrize("has_units", [False, True])
def test_bf16_on_a_cpu_without_bf16_units_says_that_fp32_is_faster(tmp_path, monkeypatch, has_units):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: has_units, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    config = tiny_config("dcgan", faces_folder(tmp_path), tmp_path / "run", precision="bf16", steps=1)
    events = list(train(config))
    notices = [e.message for e in events if isinstance(e, ev.Notice)]
    assert any("bf16 is emulated on this CPU" in m for m in notices) != has_units, notices
    assert isinstance(events[-1], ev.Finished) and events[-1].step == 1  # told, not refused
    assert not any("bf16" in m for m in
                   (e.message for e in train(config.with_(precision="fp32", out=str(tmp_path / "fp32")))
                    if isinstance(e, ev.Notice)))


def test_a_checkpoint_from_a_graphed_gpu_run_resumes_on_the_cpu(tmp_path):
    """Graphed runs save their optimizers in the capturable form (step counts on the GPU)."""
    config = tiny_config("wgan-gp", faces_folder(tmp_path), tmp_path / "run", steps=2)
    assert isinstance(list(train(config))[-1], ev.Finished)
    state = load_checkpoint(latest_checkpoint(tmp_path / "run"))
    for opt in state["optimizers"].values():  # what a capturable optimizer writes
        for group in opt["param_groups"]:
            group["capturable"] = True
        for param_state in opt["state"].values():
            param_state["step"] = param_state["step"].reshape(())
    save_checkpoint(tmp_path / "run", state, 2, keep=3)
    events = list(train(config.with_(steps=4), resume=True))
    assert isinstance(events[-1], ev.Finished) and events[-1].step == 4, events[-1]
    final = load_checkpoint(latest_checkpoint(tmp_path / "run"))
    assert all(not g["capturable"] for o in final["optimizers"].values() for g in o["param_groups"])


def test_a_capture_that_fails_midway_is_reported_once_and_training_goes_on_eagerly(tmp_path, monkeypatch):
    """A GPU is needed for real graphs; here torch.cuda's graph API is stood in for on the CPU, and the
    capture fails inside the generator's update, where the discriminator's weights are frozen."""
    from trainers.graphs import StepGraphs
    from trainers.nets.dcgan import SampleDiscriminator

    class Stream:
        def wait_stream(self, other):
            pass

    capturing = {"on": False}

    @contextlib.contextmanager
    def graph(cuda_graph, capture_error_mode="global"):
        capturing["on"] = True
        try:
            yield
        finally:
            capturing["on"] = False

    original = SampleDiscriminator.forward

    def forward(self, x):
        if capturing["on"] and not next(self.parameters()).requires_grad:
            raise RuntimeError("CUDA error: operation not permitted when stream is capturing")
        return original(self, x)

    monkeypatch.setattr(torch.cuda, "Stream", lambda device=None: Stream())
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: Stream())
    monkeypatch.setattr(torch.cuda, "stream", lambda stream: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "CUDAGraph", object)
    monkeypatch.setattr(torch.cuda, "graph", graph)
    monkeypatch.setattr(SampleDiscriminator, "forward", forward)

    config = tiny_config("dcgan", tmp_path, tmp_path / "run")
    recipe = build_recipe(config, "cpu")
    recipe.graphs = StepGraphs(recipe, warmup=2)
    batches = TensorBatches(load_folder(faces_folder(tmp_path, n=32), 32).images, "cpu", seed=1)
    for step in range(6):
        stats = recipe.step(batches, step)
        assert all(torch.isfinite(v) for v in stats.values())
    assert len(recipe.notices) == 1 and "could not capture" in recipe.notices[0], recipe.notices
    assert "not permitted when stream is capturing" in recipe.notices[0]
    assert all(p.requires_grad for p in recipe.D.parameters())  # D was not left frozen
    assert not recipe.graphs.captured and recipe.graphs.failure
    before = _weights(recipe)
    recipe.step(batches, 6)  # eager steps still train both networks
    assert not torch.equal(before, _weights(recipe))


def test_style_mixing_draws_on_the_device_and_mixes_at_the_asked_rate():
    torch.manual_seed(0)
    g = Generator(z_dim=32, resolution=32, preset="tiny")
    z = torch.randn(4, 32)
    never = g.mixed_ws(z, 0.0, update_w_avg=False)
    assert torch.equal(never, never[:, :1].expand_as(never))  # one latent for every layer
    mixed = [g.mixed_ws(z, 0.9, update_w_avg=False) for _ in range(200)]
    rate = sum(not torch.equal(ws, ws[:, :1].expand_as(ws)) for ws in mixed) / len(mixed)
    assert 0.8 < rate < 0.97
    for ws in mixed:  # layers up to the cutoff keep the first latent, the rest share the second
        first = (ws == ws[:, :1]).all(dim=2).all(dim=0)
        cutoff = int(first.long().argmin()) if not first.all() else g.num_ws
        assert first[:cutoff].all() and not first[cutoff:].any()
        assert (ws[:, cutoff:] == ws[:, -1:]).all()


def _weights(recipe) -> torch.Tensor:
    return torch.cat([p.detach().flatten().float() for m in recipe.modules.values() for p in m.parameters()])


def _train_steps(config, images, steps: int, device: str = "cpu"):
    torch.manual_seed(0)
    recipe = build_recipe(config, device)
    batches = TensorBatches(images, device, seed=1)
    stats = [{k: float(v) for k, v in recipe.step(batches, step).items()} for step in range(steps)]
    return recipe, stats


@pytest.mark.parametrize("family", FAMILIES)
def test_channels_last_trains_as_the_default_layout_does(tmp_path, family):
    config = tiny_config(family, tmp_path, tmp_path / "run", r1_every=2, pl_every=2)
    images = load_folder(faces_folder(tmp_path, n=32), 32).images
    plain, plain_stats = _train_steps(config, images, 4)
    fast, fast_stats = _train_steps(config.with_(channels_last=True), images, 4)
    assert next(fast.D.parameters()).dim() != 4 or any(
        p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
        for p in fast.D.parameters() if p.dim() == 4)
    assert (_weights(fast) - _weights(plain)).norm() <= 1e-4 * _weights(plain).norm()
    for name, value in plain_stats[-1].items():
        assert fast_stats[-1][name] == pytest.approx(value, rel=1e-3, abs=1e-4), name


@pytest.mark.parametrize("family", ["dcgan", "wgan-gp", "stylegan2"])
def test_bf16_trains_with_float32_weights_and_stats_near_fp32(tmp_path, family):
    config = tiny_config(family, tmp_path, tmp_path / "run", r1_every=2, pl_every=2)
    images = load_folder(faces_folder(tmp_path, n=32), 32).images
    plain, plain_stats = _train_steps(config, images, 3)
    fast, fast_stats = _train_steps(config.with_(precision="bf16"), images, 3)
    assert all(p.dtype == torch.float32 for m in fast.modules.values() for p in m.parameters())
    assert torch.isfinite(_weights(fast)).all()
    assert fast_stats[-1].keys() == plain_stats[-1].keys()
    # bf16 keeps about 3 significant digits: the first losses agree to a few percent.
    for name, value in plain_stats[0].items():
        assert fast_stats[0][name] == pytest.approx(value, rel=0.05, abs=0.05), name


@cuda
@pytest.mark.parametrize("family", FAMILIES)
def test_graphed_steps_train_as_eager_steps_do(tmp_path, family, monkeypatch):
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    overrides = dict(r1_every=4, pl_every=2) if family == "stylegan2" else {}
    config = tiny_config(family, tmp_path, tmp_path / "run", device="cuda", **overrides)
    images = load_folder(faces_folder(tmp_path, n=64), 32).images
    results = {}
    for graphed in (False, True):
        torch.manual_seed(0)
        recipe = build_recipe(config, "cuda")
        if graphed:
            recipe.use_graphs(True)
        batches = TensorBatches(images, "cuda", seed=1)
        torch.cuda.manual_seed(5)
        losses = []
        for step in range(12):  # StyleGAN2: every kind of step is warmed up, captured and replayed
            if step == 8:  # a rollback's restore: graphs are captured again over new optimizer state
                recipe.load_state_dict(recipe.state_dict())
            losses.append({k: float(v) for k, v in recipe.step(batches, step).items()})
        if graphed:
            assert recipe.graphs.captured and recipe.graphs.failure is None, recipe.notices
        results[graphed] = _weights(recipe), losses
    (eager_w, eager_l), (graph_w, graph_l) = results[False], results[True]
    assert torch.isfinite(graph_w).all()
    assert (graph_w - eager_w).norm() <= 1e-3 * eager_w.norm()
    assert eager_l[-1].keys() == graph_l[-1].keys()
    for name in eager_l[-1]:
        assert graph_l[-1][name] == pytest.approx(eager_l[-1][name], rel=1e-2, abs=1e-3), name


@cuda
@pytest.mark.parametrize("family", FAMILIES)
def test_a_step_makes_no_host_synchronisation(tmp_path, family):
    overrides = dict(r1_every=2, pl_every=2) if family == "stylegan2" else {}
    config = tiny_config(family, tmp_path, tmp_path / "run", device="cuda", **overrides)
    recipe = build_recipe(config, "cuda")
    batches = TensorBatches(load_folder(faces_folder(tmp_path, n=64), 32).images, "cuda", seed=1)  # no new epoch
    recipe.step(batches, 1)  # lazy initialisation (optimizer state) may synchronise once
    torch.cuda.set_sync_debug_mode("error")
    try:
        for step in range(2, 6):
            recipe.step(batches, step)
    finally:
        torch.cuda.set_sync_debug_mode("default")



@cuda
def test_images_left_in_host_memory_reach_the_gpu_as_the_same_batches_without_a_host_synchronisation(tmp_path):
    images = load_folder(faces_folder(tmp_path, n=48), 32).images
    on_gpu = TensorBatches(images, "cuda", seed=1)
    in_host = TensorBatches(images, "cuda", seed=1, on_device=False)
    assert on_gpu.on_device and not in_host.on_device and in_host.images.device.type == "cpu"
    in_host.next(16)  # the first pinned block is allocated
    on_gpu.next(16)
    torch.cuda.set_sync_debug_mode("error")
    try:
        batches = [(on_gpu.next(16), in_host.next(16)) for _ in range(6)]  # two epochs
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(torch.equal(a, b) for a, b in batches)

@cuda
def test_a_graphed_run_checkpoints_and_resumes(tmp_path):
    config = tiny_config("stylegan2", faces_folder(tmp_path), tmp_path / "run", device="cuda", cuda_graphs=True,
                         steps=40, checkpoint_every=20, sample_every=20, log_every=10)
    events = list(train(config))
    assert isinstance(events[-1], ev.Finished) and events[-1].step == 40, events[-1]
    assert not [e for e in events if isinstance(e, ev.Notice) and "CUDA graphs" in e.message]
    events = list(train(config.with_(steps=60), resume=True))
    assert isinstance(events[-1], ev.Finished) and events[-1].step == 60, events[-1]
