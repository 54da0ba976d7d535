"""StyleGAN2 training: logistic loss, lazy R1 and path-length regularisation, style mixing, an EMA generator.

One step is the four phases of the official implementation: G main, G regularisation (every pl_every
steps), D main, D regularisation (every r1_every steps). Lazy phases scale their loss by their interval and
the optimizers' learning rate and betas are adjusted for it, as in the paper.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch

from trainers import augment, losses
from trainers.config import TrainConfig
from trainers.families import Recipe
from trainers.images import to_uint8
from trainers.latent import style_mix, z_from_seeds
from trainers.nets.stylegan2 import Discriminator, Generator, style_mixing_grid

EMA_RAMPUP = 0.05  # the EMA half-life is at most 5% of the images seen so far, so early snapshots move
MIX_ROWS, MIX_COLUMNS = 4, 6  # style-mixing snapshot: row seeds give coarse styles, column seeds the rest


class StyleGAN2Recipe(Recipe):
    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        self.G = Generator(config.z_dim, config.resolution, config.preset).to(device)
        self.G.synthesis.fused = config.fused_modconv
        self.D = Discriminator(config.resolution, config.preset).to(device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.G_ema.synthesis.fused = False  # sampling and export take the path that ONNX can hold
        self.modules = {"G": self.G, "D": self.D, "G_ema": self.G_ema}
        self.optimizers = {"G": self._adam(self.G, config.lr_g, config.pl_every if config.pl_weight > 0 else 0),
                           "D": self._adam(self.D, config.lr_d, config.r1_every if config.r1_gamma > 0 else 0)}
        self.augments = augment.parse(config.diffaugment)
        self.pl_mean = torch.zeros([], device=device)
        self.images_seen = 0

    def _adam(self, module, lr: float, reg_interval: int) -> torch.optim.Optimizer:
        ratio = reg_interval / (reg_interval + 1) if reg_interval else 1.0
        betas = (self.config.beta1**ratio, self.config.beta2**ratio)
        opt = torch.optim.Adam(module.parameters(), lr=lr * ratio, betas=betas, eps=1e-8, foreach=True)
        for group in opt.param_groups:
            group["lr_mul"] = ratio
        return opt

    def sampling_generator(self):
        return self.G_ema

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        return augment.apply(x, self.augments) if self.augments else x

    def phase(self, step):
        """(path length runs, R1 runs) at `step`: the lazy regularisers' schedule."""
        cfg = self.config
        return (cfg.pl_weight > 0 and step % cfg.pl_every == 0, cfg.r1_gamma > 0 and step % cfg.r1_every == 0)

    def train_on(self, real, phase):
        cfg, G, D = self.config, self.G, self.D
        opt_g, opt_d = self.optimizers["G"], self.optimizers["D"]
        batch = cfg.batch
        run_pl, run_r1 = phase
        stats: dict[str, torch.Tensor] = {}

        sizes = self.chunks(batch)

        # G main: non-saturating logistic loss.
        D.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        for n in sizes:
            ws = G.mixed_ws(torch.randn(n, cfg.z_dim, device=self.device), cfg.style_mixing)
            g_loss = losses.logistic_generator(D(self._augment(G.synthesis(ws))))
            (g_loss * (n / batch)).backward()
        self.sync(G)
        opt_g.step()
        stats["Loss/G"] = g_loss.detach()

        # G regularisation: path length, lazily.
        if run_pl:
            pl_batch = max(batch // 2, 1)
            opt_g.zero_grad(set_to_none=True)
            for n in self.chunks(pl_batch):
                ws = G.mixed_ws(torch.randn(n, cfg.z_dim, device=self.device), cfg.style_mixing,
                                update_w_avg=False)
                img = G.synthesis(ws)
                # drawn in NCHW order whatever the layout of img, so that channels_last draws the same noise
                noise = torch.randn(img.shape, device=img.device, dtype=img.dtype)
                noise = noise / math.sqrt(img.shape[2] * img.shape[3])
                (grad,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
                lengths = grad.square().sum(2).mean(1).sqrt()  # [n]
                self.pl_mean.copy_(self.pl_mean.lerp(lengths.mean().detach().float(), 0.01))
                penalty = (lengths - self.pl_mean).square().mean()
                (penalty * cfg.pl_weight * cfg.pl_every * (n / pl_batch)).backward()
            self.sync(G)
            opt_g.step()
            stats["Loss/PL"] = penalty.detach()
        D.requires_grad_(True)

        # D main: logistic loss on reals and fakes.
        opt_d.zero_grad(set_to_none=True)
        for chunk in real.split(sizes):
            with torch.no_grad():
                ws = G.mixed_ws(torch.randn(len(chunk), cfg.z_dim, device=self.device), cfg.style_mixing,
                                update_w_avg=False)
                fake = G.synthesis(ws)
            real_logits, fake_logits = D(self._augment(chunk)), D(self._augment(fake))
            d_loss = losses.logistic_discriminator(real_logits, fake_logits)
            (d_loss * (len(chunk) / batch)).backward()
        self.sync(D)
        opt_d.step()
        stats.update({"Loss/D": d_loss.detach(), "D/real": torch.sigmoid(real_logits.detach()).mean(),
                      "D/fake": torch.sigmoid(fake_logits.detach()).mean()})

        # D regularisation: R1 on reals, lazily.
        if run_r1:
            opt_d.zero_grad(set_to_none=True)
            for chunk in real.detach().split(sizes):
                chunk = chunk.requires_grad_(True)
                r1 = losses.r1_penalty(D(self._augment(chunk)), chunk)
                (r1 * (cfg.r1_gamma / 2) * cfg.r1_every * (len(chunk) / batch)).backward()
            self.sync(D)
            opt_d.step()
            stats["Loss/R1"] = r1.detach()
        return stats

    def after_step(self) -> None:
        self.images_seen += self.config.batch
        self.update_ema(self.config.batch)

    @torch.no_grad()
    def update_ema(self, batch: int) -> None:
        half_life = self.config.ema_kimg * 1000
        half_life = min(half_life, self.images_seen * EMA_RAMPUP)
        beta = 0.5 ** (batch / max(half_life, 1e-8))
        ema_params, params = list(self.G_ema.parameters()), list(self.G.parameters())
        torch._foreach_lerp_(ema_params, params, 1.0 - beta)  # ema = beta * ema + (1 - beta) * current
        torch._foreach_copy_(list(self.G_ema.buffers()), list(self.G.buffers()))

    @torch.no_grad()
    def generate(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        ws = self.G_ema.mapping(z.to(self.device), psi=truncation)
        return self.G_ema.synthesis(ws, noise_mode="const")

    @torch.no_grad()
    def snapshot_extras(self) -> dict[str, np.ndarray]:
        """A style-mixing grid: row seeds' coarse styles (4-8 px) over column seeds' middle and fine styles."""
        g = self.G_ema
        rows = g.mapping(z_from_seeds(range(1000, 1000 + MIX_ROWS), g.z_dim).to(self.device))
        cols = g.mapping(z_from_seeds(range(2000, 2000 + MIX_COLUMNS), g.z_dim).to(self.device))
        coarse = g.synthesis.layers_for(4, 8)
        mixed = style_mix(cols[None].expand(MIX_ROWS, -1, -1, -1).reshape(-1, g.num_ws, g.w_dim),
                          rows[:, None].expand(-1, MIX_COLUMNS, -1, -1).reshape(-1, g.num_ws, g.w_dim), coarse)
        images = [to_uint8(g.synthesis(w, noise_mode="const")) for w in (rows, cols, mixed)]
        r, c, m = images
        return {"style-mixing": style_mixing_grid(r, c, m.reshape(MIX_ROWS, MIX_COLUMNS, *m.shape[1:]))}

    def extra_state(self) -> dict[str, Any]:
        return {"pl_mean": self.pl_mean.detach().cpu(), "images_seen": self.images_seen}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "pl_mean" in state:
            self.pl_mean.copy_(state["pl_mean"].to(self.device))
        self.images_seen = int(state.get("images_seen", 0))
