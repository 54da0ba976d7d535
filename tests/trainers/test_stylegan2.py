"""StyleGAN2 networks and training on tiny configs."""

import copy
import math

import pytest
import torch

from tests.helpers import faces_folder, tiny_config
from trainers import events as ev
from trainers.checkpoint import latest_checkpoint, load_checkpoint
from trainers.data import TensorBatches, load_folder
from trainers.families import build_recipe
from trainers.latent import style_mix, truncate
from trainers.loop import resume_config, train
from trainers.nets.stylegan2 import FIR, Discriminator, Generator, count_parameters


@pytest.fixture(scope="module")
def gen():
    torch.manual_seed(0)
    g = Generator(z_dim=32, resolution=32, preset="tiny").eval()
    with torch.no_grad():  # give noise a visible effect so that noise modes can be told apart
        for m in g.modules():
            if hasattr(m, "noise_strength"):
                m.noise_strength.fill_(0.3)
    return g


def test_shapes(gen):
    ws = gen.mapping(torch.randn(3, 32))
    assert ws.shape == (3, gen.num_ws, 64) and gen.num_ws == 8  # 4, 8, 16, 32: 1 + 2 + 2 + 2 convs + 1
    img = gen.synthesis(ws)
    assert img.shape == (3, 3, 32, 32)
    d = Discriminator(32, "tiny")
    assert d(img).shape == (3,)
    assert Generator(32, 64, "tiny").num_ws == 10 and Generator(32, 256, "tiny")(torch.randn(2, 32)).shape[-1] == 256


def test_mapping_then_synthesis_equals_the_combined_forward(gen):
    z = torch.randn(4, 32)
    with torch.no_grad():
        both = gen(z, noise_mode="const")
        split = gen.synthesis(gen.mapping(z), noise_mode="const")
    assert torch.equal(both, split)


def test_fused_and_unfused_modulation_agree(gen):
    ws = gen.mapping(torch.randn(5, 32))
    with torch.no_grad():
        a = gen.synthesis(ws, noise_mode="const", fused=True)
        b = gen.synthesis(ws, noise_mode="const", fused=False)
    assert (a - b).abs().max() < 1e-4


def test_noise_modes(gen):
    ws = gen.mapping(torch.randn(2, 32))
    with torch.no_grad():
        assert torch.equal(gen.synthesis(ws, noise_mode="const"), gen.synthesis(ws, noise_mode="const"))
        assert not torch.equal(gen.synthesis(ws, noise_mode="random"), gen.synthesis(ws, noise_mode="random"))


def block_outputs(g, ws):
    outputs = []
    hooks = [b.register_forward_hook(lambda m, i, o: outputs.append(o[0].clone())) for b in g.synthesis.blocks]
    with torch.no_grad():
        g.synthesis(ws, noise_mode="const")
    for h in hooks:
        h.remove()
    return outputs


def test_swapping_ws_from_a_layer_on_changes_only_the_layers_after_it(gen):
    ws_a, ws_b = gen.mapping(torch.randn(2, 32)), gen.mapping(torch.randn(2, 32))
    fine = gen.synthesis.layers_for(16)  # 16 px and up
    assert fine == list(range(4, 8))
    mixed = style_mix(ws_a, ws_b, fine)
    a, m = block_outputs(gen, ws_a), block_outputs(gen, mixed)
    assert torch.equal(a[0], m[0]) and torch.equal(a[1], m[1])  # 4x4 and 8x8 features untouched
    assert not torch.allclose(a[2], m[2]) and not torch.allclose(a[3], m[3])
    same = style_mix(ws_a, ws_a.clone(), fine)
    with torch.no_grad():
        assert torch.equal(gen.synthesis(same, noise_mode="const"), gen.synthesis(ws_a, noise_mode="const"))


def test_layer_presets_cover_every_layer_once():
    g = Generator(16, 64, "tiny")
    coarse, middle, fine = g.synthesis.layers_for(4, 8), g.synthesis.layers_for(16, 32), g.synthesis.layers_for(64)
    assert coarse == [0, 1, 2, 3] and middle == [4, 5, 6, 7] and fine == [8, 9]


def test_truncation_pulls_towards_w_avg(gen):
    ws = gen.mapping(torch.randn(4, 32))
    w_avg = gen.mapping.w_avg
    assert torch.equal(truncate(ws, w_avg, 1.0), ws)
    assert torch.allclose(truncate(ws, w_avg, 0.0), w_avg.expand_as(ws))
    half = truncate(ws, w_avg, 0.5, cutoff=3)
    assert torch.allclose(half[:, :3], (ws[:, :3] + w_avg) / 2) and torch.equal(half[:, 3:], ws[:, 3:])


def test_fir_resampling_keeps_a_flat_image_flat():
    x = torch.ones(1, 2, 8, 8)
    up, down = FIR(2).upsample(x), FIR(2).downsample(x)
    assert up.shape == (1, 2, 16, 16) and down.shape == (1, 2, 4, 4)
    assert torch.allclose(up[..., 2:-2, 2:-2], torch.ones(1)) and torch.allclose(down[..., 1:-1, 1:-1], torch.ones(1))


def test_mapping_has_eight_layers_with_lr_multiplier():
    g = Generator(32, 32, "tiny")
    layers = list(g.mapping.net)
    assert len(layers) == 8 and all(math.isclose(layer.bias_gain, 0.01) for layer in layers)


def test_presets_parameter_counts_match_the_documentation():
    counts = {p: (count_parameters(Generator(512, 64, p)), count_parameters(Discriminator(64, p)))
              for p in ("tiny", "small", "medium", "base")}
    assert counts == {"tiny": (328_776, 296_401), "small": (2_384_664, 1_657_857),
                      "medium": (6_027_928, 5_854_593), "base": (23_819_544, 23_407_361)}


@pytest.fixture
def recipe_and_batches(tmp_path):
    config = tiny_config("stylegan2", faces_folder(tmp_path), tmp_path / "run", z_dim=32, r1_every=1, pl_every=1)
    torch.manual_seed(0)
    recipe = build_recipe(config, "cpu")
    return recipe, TensorBatches(load_folder(config.data, 32).images, "cpu", seed=0)


def test_regularisers_are_finite_and_differentiable(recipe_and_batches):
    recipe, batches = recipe_and_batches
    stats = recipe.step(batches, 0)
    assert {"Loss/G", "Loss/D", "Loss/R1", "Loss/PL"} <= set(stats)
    assert all(math.isfinite(v.item()) for v in stats.values())
    assert recipe.pl_mean.item() > 0
    # The R1 phase runs last: its gradient reaches every convolution weight (biases of the last layers do not
    # change the input gradient, so they get none).
    conv_grads = [p.grad for p in recipe.D.parameters() if p.ndim == 4]
    assert conv_grads and all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in conv_grads)


def test_ema_follows_the_documented_half_life(recipe_and_batches):
    recipe, batches = recipe_and_batches
    recipe.images_seen = 10**9  # past the ramp-up
    before = copy.deepcopy(recipe.G_ema.state_dict())
    with torch.no_grad():
        for p in recipe.G.parameters():
            p.add_(1.0)
    recipe.update_ema(batch=4)
    beta = 0.5 ** (4 / (recipe.config.ema_kimg * 1000))
    name, param = next((n, p) for n, p in recipe.G.named_parameters() if p.ndim == 4)
    expected = beta * before[name] + (1 - beta) * param
    assert torch.allclose(recipe.G_ema.state_dict()[name], expected, atol=1e-6)
    assert torch.equal(recipe.G_ema.mapping.w_avg, recipe.G.mapping.w_avg)


def test_w_avg_is_tracked_while_training(recipe_and_batches):
    recipe, batches = recipe_and_batches
    assert recipe.G.mapping.w_avg.abs().sum() == 0
    recipe.step(batches, 1)
    assert recipe.G.mapping.w_avg.abs().sum() > 0


def test_training_steps_snapshots_and_resume(tmp_path):
    data = faces_folder(tmp_path)
    config = tiny_config("stylegan2", data, tmp_path / "run", z_dim=32, steps=3, diffaugment="translation,cutout,color")
    events = list(train(config))
    assert not [e for e in events if isinstance(e, ev.Failed)]
    samples = [e for e in events if isinstance(e, ev.Samples)][-1]
    assert samples.extras["style-mixing"].shape == (5 * 32, 7 * 32, 3)
    assert (tmp_path / "run" / "samples" / "style-mixing-step-000000003.png").is_file()
    state = load_checkpoint(latest_checkpoint(tmp_path / "run"))
    assert set(state["models"]) == {"G", "D", "G_ema"}

    straight = tiny_config("stylegan2", data, tmp_path / "straight", z_dim=32, steps=5, checkpoint_every=100)
    list(train(straight))
    list(train(tiny_config("stylegan2", data, tmp_path / "split", z_dim=32, steps=2, checkpoint_every=100)))
    list(train(resume_config(tmp_path / "split", steps=5), resume=True))
    a = load_checkpoint(latest_checkpoint(tmp_path / "straight"))
    b = load_checkpoint(latest_checkpoint(tmp_path / "split"))
    for net in ("G", "D", "G_ema"):
        for key, value in a["models"][net].items():
            assert torch.allclose(value, b["models"][net][key], atol=1e-5), (net, key)
    assert torch.allclose(a["recipe"]["pl_mean"], b["recipe"]["pl_mean"])
