"""Loss functions and regularisers as pure functions of logits, images and modules.

Shapes: logits [N]; images [N, 3, H, W]. Every function returns a scalar tensor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def bce_discriminator(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE on sigmoid(D): real -> 1, fake -> 0 (the classic DCGAN discriminator loss)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def bce_generator(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: BCE of sigmoid(D(G(z))) against 1."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def logistic_discriminator(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """StyleGAN2's logistic loss, softplus(D(fake)) + softplus(-D(real)), averaged: the same maths as BCE."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def logistic_generator(fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_logits).mean()


def wasserstein_critic(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Critic loss: E[D(fake)] - E[D(real)] (minimised, so the critic scores reals higher)."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()


@torch.no_grad()
def clip_weights(critic: nn.Module, limit: float) -> None:
    """WGAN's Lipschitz constraint: clamp every critic parameter to [-limit, limit], in place."""
    params = list(critic.parameters())
    torch._foreach_clamp_min_(params, -limit)  # two launches for the whole critic instead of two per tensor
    torch._foreach_clamp_max_(params, limit)


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP: E[(||grad D(x_hat)||_2 - 1)^2] at random points x_hat between real and fake images."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E[||grad D(x)||^2] on real images; `real` must require grad."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.square().flatten(1).sum(1).mean()
