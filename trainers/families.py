"""Model families: how each builds its networks and optimizers and what one training step does.

The training loop knows only the `Recipe` interface; families differ in their config and loss strategy,
not in `if` chains through the loop. `RECIPES` maps a family name to the function that builds its recipe.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

import numpy as np
import torch
from torch import nn

from trainers import losses
from trainers.config import TrainConfig
from trainers.data import TensorBatches
from trainers.graphs import StepGraphs, set_capturable
from trainers.nets.dcgan import SampleDiscriminator, SampleGenerator, TutorialDiscriminator, TutorialGenerator


class Recipe:
    """One family's networks, optimizers and step: subclasses fill `modules` and `optimizers` and implement
    `train_on` and `sampling_generator` (and `phase` / `after_step` when their steps differ)."""

    family: str = ""
    # Modules and optimizers saved in checkpoints, by name.
    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    def __init__(self, config: TrainConfig, device: torch.device):
        self.config = config
        self.device = device
        # Set by the loop when training across processes: averages a module's gradients over all of them.
        self.grad_sync: Callable[[nn.Module], None] | None = None
        # Each batch is processed in this many chunks whose gradients add up (raised after out-of-memory).
        self.accumulation = 1
        self.graphs: StepGraphs | None = None  # set when steps run as CUDA graphs
        self.notices: list[str] = []  # messages for the user that came up during a step

    def chunks(self, n: int) -> list[int]:
        """Sizes of the chunks a batch of n is processed in."""
        k = min(self.accumulation, n)
        return [len(c) for c in torch.arange(n).chunk(k)]

    def sync(self, module: nn.Module) -> None:
        """Call between backward() and the optimizer step."""
        if self.grad_sync is not None:
            self.grad_sync(module)

    @property
    def images_per_step(self) -> int:
        """Real images the discriminator sees in one step."""
        return self.config.batch * (self.config.n_critic or 1)

    def step(self, batches: TensorBatches, step: int) -> dict[str, torch.Tensor]:
        """One generator step (and its discriminator steps). Returns detached scalar stats on the device.

        With CUDA graphs on (`use_graphs`), each kind of step is captured once and replayed with new images.
        """
        real = batches.next(self.images_per_step)
        if self.config.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        phase = self.phase(step)
        try:
            stats = self.graphs.run(phase, real) if self.graphs is not None else self.work(real, phase)
        except BaseException:  # out of memory mid-step (retried in chunks), a failed capture, Ctrl-C...
            self.restore_requires_grad()
            raise
        self.after_step()
        return stats

    def restore_requires_grad(self) -> None:
        """Every trained weight requires gradients again: a step interrupted while one network was frozen
        (the discriminator during the generator's update) must not leave it frozen for the next."""
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                for p in group["params"]:
                    p.requires_grad_(True)

    def work(self, real: torch.Tensor, phase: Hashable) -> dict[str, torch.Tensor]:
        """`train_on` in the configured precision; stats come back in float32."""
        if self.config.precision == "fp32":
            return self.train_on(real, phase)
        # No cast cache under CUDA graphs: PyTorch asks for it off where autocast meets graph capture.
        with torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=self.graphs is None):
            stats = self.train_on(real, phase)
        return {k: v.float() for k, v in stats.items()}

    def phase(self, step: int) -> Hashable:
        """What kind of step `step` is (which lazy regularisers run): steps of one kind share a CUDA graph."""
        return ()

    def train_on(self, real: torch.Tensor, phase: Hashable) -> dict[str, torch.Tensor]:
        """The step's work on `real` [images_per_step, 3, R, R]: only device work, no host synchronisation and
        no Python decision on a tensor's value, so that it can be captured as a CUDA graph."""
        raise NotImplementedError

    def after_step(self) -> None:
        """Bookkeeping after each step that must not be frozen in a CUDA graph (it changes from step to step)."""

    def use_graphs(self, on: bool) -> None:
        """Capture and replay whole steps as CUDA graphs (a single CUDA device only) or run them eagerly."""
        if on and self.device.type != "cuda":
            raise ValueError("CUDA graphs need a CUDA device")
        for opt in self.optimizers.values():
            set_capturable(opt, on)
        self.graphs = StepGraphs(self) if on else None

    def forget_graphs(self) -> None:
        """Drop captured graphs (after optimizer state or learning rates were replaced): the next steps capture
        new ones."""
        if self.graphs is not None:
            self.graphs.clear()

    def sampling_generator(self) -> nn.Module:
        """The network that makes faces for snapshots, sampling and export (an EMA copy where there is one)."""
        raise NotImplementedError

    @torch.no_grad()
    def generate(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """z [N, z_dim] -> images [N, 3, R, R] in [-1, 1], in eval mode, without touching the training RNG.

        Truncation applies to families with a w space (StyleGAN2); the others refuse psi != 1.
        """
        if truncation != 1.0:
            raise ValueError(f"truncation applies to stylegan2 models, not {self.family}")
        g = self.sampling_generator()
        was_training = g.training
        g.eval()
        try:
            return g(z.to(self.device))
        finally:
            g.train(was_training)

    def snapshot_extras(self) -> dict[str, np.ndarray]:
        """Extra snapshot images by name ([H, W, 3] uint8), beside the fixed-seed grid."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"models": {k: m.state_dict() for k, m in self.modules.items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "recipe": self.extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, m in self.modules.items():
            m.load_state_dict(state["models"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
            set_capturable(o, self.graphs is not None)  # the saved run may have run in the other form
        self.load_extra_state(state.get("recipe", {}))
        self.forget_graphs()  # the optimizers' state tensors are new objects

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    @torch.no_grad()
    def weights_finite(self) -> bool:
        """Whether every trained weight is finite (one device sync)."""
        params = [p for m in self.modules.values() for p in m.parameters()]
        return bool(torch.isfinite(torch.stack([p.abs().sum() for p in params]).sum()))

    def set_learning_rate_scale(self, scale: float) -> None:
        """Multiply every optimizer's learning rate by `scale` relative to the config's."""
        for name, opt in self.optimizers.items():
            base = self.config.lr_g if name.startswith("G") else self.config.lr_d
            for group in opt.param_groups:
                group["lr"] = base * group.get("lr_mul", 1.0) * scale
        self.forget_graphs()  # a captured optimizer step holds its learning rate


def make_optimizer(config: TrainConfig, params, lr: float) -> torch.optim.Optimizer:
    # foreach implementations: one kernel per op over all parameters rather than one per tensor.
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    return torch.optim.Adam(params, lr=lr, betas=(config.beta1, config.beta2), foreach=True)


class LossStrategy:
    """How a DCGAN-shaped family scores its discriminator and generator."""

    def discriminator(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def generator(self, fake_scores: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def after_discriminator_step(self, critic: nn.Module) -> None:
        pass


class NonSaturatingBCE(LossStrategy):
    def discriminator(self, critic, real, fake):
        real_logits, fake_logits = critic(real), critic(fake)
        loss = losses.bce_discriminator(real_logits, fake_logits)
        return loss, {"D/real": torch.sigmoid(real_logits).mean(), "D/fake": torch.sigmoid(fake_logits).mean()}

    def generator(self, fake_scores):
        return losses.bce_generator(fake_scores)


class WassersteinClip(LossStrategy):
    def __init__(self, clip: float):
        self.clip = clip

    def discriminator(self, critic, real, fake):
        real_scores, fake_scores = critic(real), critic(fake)
        loss = losses.wasserstein_critic(real_scores, fake_scores)
        return loss, {"Wasserstein/estimate": -loss.detach()}

    def generator(self, fake_scores):
        return losses.wasserstein_generator(fake_scores)

    def after_discriminator_step(self, critic):
        losses.clip_weights(critic, self.clip)


class WassersteinGP(LossStrategy):
    def __init__(self, weight: float):
        self.weight = weight

    def discriminator(self, critic, real, fake):
        real_scores, fake_scores = critic(real), critic(fake)
        wdist = losses.wasserstein_critic(real_scores, fake_scores)
        gp = losses.gradient_penalty(critic, real, fake)
        return wdist + self.weight * gp, {"Wasserstein/estimate": -wdist.detach(), "Loss/GP": gp.detach()}

    def generator(self, fake_scores):
        return losses.wasserstein_generator(fake_scores)


class DcganRecipe(Recipe):
    """Every DCGAN-shaped family: alternate n_critic discriminator steps and one generator step."""

    def __init__(self, config: TrainConfig, device: torch.device, G: nn.Module, D: nn.Module, loss: LossStrategy):
        super().__init__(config, device)
        self.G, self.D, self.loss = G.to(device), D.to(device), loss
        self.modules = {"G": self.G, "D": self.D}
        self.optimizers = {"G": make_optimizer(config, self.G.parameters(), config.lr_g),
                           "D": make_optimizer(config, self.D.parameters(), config.lr_d)}

    def sampling_generator(self) -> nn.Module:
        return self.G

    def train_on(self, real, phase):
        cfg, opt_d, opt_g = self.config, self.optimizers["D"], self.optimizers["G"]
        sizes = self.chunks(cfg.batch)
        # With one discriminator step (and no gradient accumulation) one generator pass feeds both steps, as in
        # the classic loop: D learns from fake.detach(), then G learns through D(fake) with D's new weights.
        reuse = cfg.n_critic == 1 and len(sizes) == 1
        for real_batch in real.split(cfg.batch):  # n_critic discriminator steps
            opt_d.zero_grad(set_to_none=True)
            for chunk in real_batch.split(sizes):
                z = torch.randn(len(chunk), cfg.z_dim, device=self.device)
                if reuse:
                    fake_for_g = self.G(z)
                    fake = fake_for_g.detach()
                else:
                    with torch.no_grad():
                        fake = self.G(z)
                d_loss, stats = self.loss.discriminator(self.D, chunk, fake)
                (d_loss * (len(chunk) / cfg.batch)).backward()
            self.sync(self.D)
            opt_d.step()
            self.loss.after_discriminator_step(self.D)
        for p in self.D.parameters():  # the generator step needs no gradients for D's weights
            p.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        for n in sizes:
            fake = fake_for_g if reuse else self.G(torch.randn(n, cfg.z_dim, device=self.device))
            g_loss = self.loss.generator(self.D(fake))
            (g_loss * (n / cfg.batch)).backward()
        self.sync(self.G)
        opt_g.step()
        for p in self.D.parameters():
            p.requires_grad_(True)
        return {"Loss/D": d_loss.detach(), "Loss/G": g_loss.detach(), **{k: v.detach() for k, v in stats.items()}}


def _dcgan(config: TrainConfig, device: torch.device) -> Recipe:
    G = SampleGenerator(config.z_dim, config.resolution, config.g_width, linear=config.linear)
    D = SampleDiscriminator(config.resolution, config.d_width)
    return DcganRecipe(config, device, G, D, NonSaturatingBCE())


def _dcgan_tutorial(config: TrainConfig, device: torch.device) -> Recipe:
    G = TutorialGenerator(config.z_dim, config.resolution, config.g_width)
    D = TutorialDiscriminator(config.resolution, config.d_width)
    return DcganRecipe(config, device, G, D, NonSaturatingBCE())


def _wgan_clip(config: TrainConfig, device: torch.device) -> Recipe:
    G = SampleGenerator(config.z_dim, config.resolution, config.g_width, linear=config.linear)
    D = SampleDiscriminator(config.resolution, config.d_width)
    return DcganRecipe(config, device, G, D, WassersteinClip(config.clip))


def _wgan_gp(config: TrainConfig, device: torch.device) -> Recipe:
    G = SampleGenerator(config.z_dim, config.resolution, config.g_width, linear=config.linear)
    D = SampleDiscriminator(config.resolution, config.d_width, norm="none")
    return DcganRecipe(config, device, G, D, WassersteinGP(config.gp_weight))


def _stylegan2(config: TrainConfig, device: torch.device) -> Recipe:
    from trainers.stylegan2_recipe import StyleGAN2Recipe

    return StyleGAN2Recipe(config, device)


RECIPES: dict[str, Callable[[TrainConfig, torch.device], Recipe]] = {
    "dcgan": _dcgan,
    "dcgan-tutorial": _dcgan_tutorial,
    "wgan-clip": _wgan_clip,
    "wgan-gp": _wgan_gp,
    "stylegan2": _stylegan2,
}


def build_recipe(config: TrainConfig, device: torch.device | str) -> Recipe:
    recipe = RECIPES[config.model](config, torch.device(device))
    recipe.family = config.model
    if config.channels_last:
        for module in recipe.modules.values():
            module.to(memory_format=torch.channels_last)
    return recipe


def generator_from_checkpoint(state: dict[str, Any], device: torch.device | str = "cpu") -> Recipe:
    """A recipe holding a checkpoint's trained networks (optimizers left fresh), ready to `generate`."""
    config = TrainConfig.from_dict(state["config"])
    recipe = build_recipe(config, device)
    for name, module in recipe.modules.items():
        module.load_state_dict(state["models"][name])
    recipe.load_extra_state(state.get("recipe", {}))
    return recipe
