"""Every family trains: finite losses, a checkpoint and a sample grid; the networks are the documented ones."""

import math
import shutil

import pytest
import torch
from torch import nn

from tests.helpers import faces_folder, tiny_config
from trainers import events as ev
from trainers.config import ConfigError, TrainConfig
from trainers.families import build_recipe
from trainers.loop import train
from trainers.nets.dcgan import SampleDiscriminator, SampleGenerator, TutorialDiscriminator, TutorialGenerator

DCGAN_FAMILIES = ["dcgan", "dcgan-tutorial", "wgan-clip", "wgan-gp"]


@pytest.mark.parametrize("model", DCGAN_FAMILIES)
def test_each_family_trains_and_writes_a_checkpoint_and_a_grid(model, tmp_path):
    config = tiny_config(model, faces_folder(tmp_path), tmp_path / "run")
    events = list(train(config))
    kinds = [type(e) for e in events]
    assert kinds[0] is ev.Started and kinds[-1] is ev.Finished
    assert ev.Failed not in kinds
    progress = [e for e in events if isinstance(e, ev.Progress)]
    assert progress and all(math.isfinite(v) for p in progress for v in p.stats.values())
    assert {"Loss/D", "Loss/G"} <= set(progress[-1].stats)
    samples = [e for e in events if isinstance(e, ev.Samples)]
    assert samples[-1].grid.shape == (2 * 34 + 2, 2 * 34 + 2, 3)  # 2x2 faces of 32px, 2px padding
    assert (tmp_path / "run" / "samples" / "step-000000004.png").is_file()
    assert (tmp_path / "run" / "checkpoints" / "step-000000004.pt").is_file()
    assert events[-1].images_seen == 4 * 4 * config.n_critic


@pytest.mark.parametrize("resolution", [32, 64, 128])
@pytest.mark.parametrize("G,D", [(SampleGenerator, SampleDiscriminator), (TutorialGenerator, TutorialDiscriminator)])
def test_networks_at_each_resolution(G, D, resolution):
    g, d = G(z_dim=10, resolution=resolution, width=32), D(resolution=resolution, width=8)
    img = g(torch.randn(2, 10))
    assert img.shape == (2, 3, resolution, resolution) and img.abs().max() <= 1
    assert d(img).shape == (2,)


def test_sample_dcgan_is_the_assignments_architecture():
    g = SampleGenerator(z_dim=100, resolution=64, width=512, linear=True)
    assert isinstance(g.project[0], nn.Linear) and g.project[0].out_features == 4 * 4 * 512
    assert isinstance(g.project[1], nn.BatchNorm1d)
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(convs) == 4 and all(c.kernel_size == (5, 5) and c.stride == (2, 2) for c in convs)
    d = SampleDiscriminator(64)
    assert all(c.kernel_size == (5, 5) for c in d.modules() if isinstance(c, nn.Conv2d))
    recipe = build_recipe(TrainConfig.for_family("dcgan", device="cpu"), "cpu")
    opt = recipe.optimizers["G"]
    assert isinstance(opt, torch.optim.Adam) and opt.defaults["lr"] == 1e-4 and opt.defaults["betas"] == (0.5, 0.999)


def test_the_sample_dcgan_step_is_the_classic_loops_step():
    """One generator pass feeds the discriminator step (detached) and the generator step, as in the classic loop
    (the training benchmark's reference)."""
    from bench.train_speed import classic_step

    config = TrainConfig.for_family("dcgan", resolution=32, batch=8, g_width=32, d_width=8, device="cpu")
    torch.manual_seed(0)
    recipe = build_recipe(config, "cpu")
    torch.manual_seed(0)
    G, D = SampleGenerator(100, 32, 32), SampleDiscriminator(32, 8)
    opt_g = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-4, betas=(0.5, 0.999))
    real = torch.rand(8, 3, 32, 32) * 2 - 1
    forwards = []
    recipe.G.register_forward_hook(lambda *_: forwards.append(1))
    for step in range(3):
        torch.manual_seed(10 + step)
        recipe.train_on(real, ())
        torch.manual_seed(10 + step)
        classic_step(G, D, opt_g, opt_d, real)
    assert len(forwards) == 3  # one generator pass a step
    for mine, classic in ((recipe.G, G), (recipe.D, D)):
        for (name, a), b in zip(mine.state_dict().items(), classic.state_dict().values()):
            assert torch.allclose(a.float(), b.float(), atol=1e-6), name


def test_tutorial_dcgan_has_no_linear_layer_and_4x4_kernels():
    g = TutorialGenerator(100, 64, 64)
    assert not any(isinstance(m, nn.Linear) for m in g.modules())
    assert all(m.kernel_size == (4, 4) for m in g.modules() if isinstance(m, nn.ConvTranspose2d))


def test_wgan_clip_keeps_critic_weights_clipped_and_linear_flag_restores_the_linear_layer(tmp_path):
    config = tiny_config("wgan-clip", faces_folder(tmp_path), tmp_path / "run", steps=2)
    recipe = build_recipe(config, "cpu")
    assert isinstance(recipe.optimizers["D"], torch.optim.RMSprop)
    assert not isinstance(recipe.G.project[0], nn.Linear)
    from trainers.data import TensorBatches, load_folder

    batches = TensorBatches(load_folder(config.data, 32).images, "cpu", seed=0)
    recipe.step(batches, 0)
    assert max(p.abs().max().item() for p in recipe.D.parameters()) <= 0.01 + 1e-7
    linear = build_recipe(config.with_(linear=True), "cpu")
    assert isinstance(linear.G.project[0], nn.Linear)


def test_wgan_gp_critic_has_no_batchnorm_and_reports_the_penalty(tmp_path):
    config = tiny_config("wgan-gp", faces_folder(tmp_path), tmp_path / "run")
    recipe = build_recipe(config, "cpu")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in recipe.D.modules())
    assert config.gp_weight == 10.0 and config.n_critic == 2  # tiny_config's n_critic; the family default is 5
    assert TrainConfig.for_family("wgan-gp").n_critic == 5
    events = list(train(config))
    assert "Loss/GP" in [e for e in events if isinstance(e, ev.Progress)][-1].stats


def test_bad_settings_are_refused_with_a_clear_message():
    with pytest.raises(ConfigError, match="resolutions 32, 64, 128"):
        TrainConfig.for_family("dcgan", resolution=48)
    with pytest.raises(ConfigError, match="unknown model family"):
        TrainConfig.for_family("bigbrain")
    with pytest.raises(ConfigError, match="batch"):
        TrainConfig.for_family("dcgan", batch=0)
    with pytest.raises(ConfigError, match="dcgan with its Linear first layer needs a batch of at least 2"):
        TrainConfig.for_family("dcgan", batch=1)
    TrainConfig.for_family("dcgan", batch=1, linear=False)  # no BatchNorm1d: one image a step trains
    with pytest.raises(ConfigError, match="unknown DiffAugment policy zoom"):
        TrainConfig.for_family("stylegan2", diffaugment="translation,zoom")


def test_holdout_keeps_the_last_images_out_of_training(tmp_path):
    config = tiny_config("dcgan", faces_folder(tmp_path, n=24), tmp_path / "run", steps=1, holdout=10)
    events = train(config)
    started = next(events)
    assert started.num_images == 14
    assert not any(isinstance(e, ev.Notice) and "copies" in e.message for e in events)
    with pytest.raises(ConfigError, match="holdout"):
        list(train(config.with_(holdout=24, out=str(tmp_path / "r2"))))


def test_holdout_leaves_the_held_out_images_copies_out_of_training(tmp_path):
    from PIL import Image, ImageOps

    data = faces_folder(tmp_path, n=24)
    # the last two files, held out: face 3 mirrored and paler, as a dataset's re-posted copy would be; face 5 as is
    ImageOps.mirror(Image.open(data / "face-00003.png")).point(lambda v: v // 2 + 100).save(data / "zz-copy-a.png")
    Image.open(data / "face-00005.png").save(data / "zz-copy-b.jpg", quality=90)
    config = tiny_config("dcgan", data, tmp_path / "run", steps=1, holdout=2)
    events = list(train(config))
    assert events[0].num_images == 22  # 24 less faces 3 and 5, whose copies are held out
    notices = [e.message for e in events if isinstance(e, ev.Notice)]
    assert "left out 2 training images that are copies of held-out images, so that those stay faces the model " \
           "never saw" in notices
    assert isinstance(events[-1], ev.Finished)
    # a folder of one picture, copied: holding one out leaves nothing to train on, which is said before any work
    for path in sorted(data.iterdir())[1:]:
        path.unlink()
    for k in range(3):
        shutil.copy(data / "face-00000.png", data / f"face-1{k}.png")
    with pytest.raises(ConfigError, match="holdout 1 leaves no image to train on: each of the other 3 is a copy"):
        next(train(config.with_(holdout=1, out=str(tmp_path / "r2"))))
