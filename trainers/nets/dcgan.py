"""DCGAN-family networks: the classic assignment's sample (5x5 kernels) and the PyTorch tutorial's (4x4 kernels).

Modules only: nothing here knows about losses, optimizers or training.
Generators: z [N, z_dim] -> image [N, 3, R, R] in [-1, 1]. Discriminators: image -> logits [N].
The sample discriminator ends in a sigmoid in the classic code; here it returns the logit and the loss
applies the sigmoid (binary cross-entropy with logits: the same function, without float overflow).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _levels(resolution: int) -> int:
    """Number of 2x up/down-sampling layers between 4x4 and resolution x resolution."""
    levels = int(math.log2(resolution)) - 2
    if 4 * 2**levels != resolution or levels < 1:
        raise ValueError(f"resolution must be a power of two of at least 8, not {resolution}")
    return levels


def init_weights(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: N(0, 0.02) weights, BatchNorm scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class SampleGenerator(nn.Module):
    """The sample DCGAN: Linear + BatchNorm1d to 4x4xwidth, then 5x5 stride-2 transposed convolutions.

    With linear=False the first layer is a 4x4 transposed convolution from z (the WGAN variant).
    """

    def __init__(self, z_dim: int = 100, resolution: int = 64, width: int = 512, linear: bool = True):
        super().__init__()
        levels = _levels(resolution)
        self.z_dim, self.resolution, self.width, self.linear = z_dim, resolution, width, linear
        if linear:
            self.project = nn.Sequential(
                nn.Linear(z_dim, 4 * 4 * width, bias=False), nn.BatchNorm1d(4 * 4 * width), nn.ReLU(True))
        else:
            self.project = nn.Sequential(
                nn.ConvTranspose2d(z_dim, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True))
        layers: list[nn.Module] = []
        channels = width
        for _ in range(levels - 1):
            out = max(channels // 2, 16)
            layers += [nn.ConvTranspose2d(channels, out, 5, 2, padding=2, output_padding=1, bias=False),
                       nn.BatchNorm2d(out), nn.ReLU(True)]
            channels = out
        layers += [nn.ConvTranspose2d(channels, 3, 5, 2, padding=2, output_padding=1), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # z: [N, z_dim] -> [N, 3, R, R] in [-1, 1]
        if self.linear:
            x = self.project(z).view(-1, self.width, 4, 4)
        else:
            x = self.project(z[:, :, None, None])
        return self.body(x)


class SampleDiscriminator(nn.Module):
    """5x5 stride-2 convolutions down to 4x4, then a linear logit. norm='none' for WGAN-GP critics."""

    def __init__(self, resolution: int = 64, width: int = 64, norm: str = "batch"):
        super().__init__()
        levels = _levels(resolution)
        layers: list[nn.Module] = [nn.Conv2d(3, width, 5, 2, 2), nn.LeakyReLU(0.2, True)]
        channels = width
        for _ in range(levels - 1):
            out = min(channels * 2, 1024)
            layers.append(nn.Conv2d(channels, out, 5, 2, 2, bias=norm != "batch"))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(0.2, True))
            channels = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(channels * 4 * 4, 1)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [N, 3, R, R] -> logits [N]
        return self.head(self.body(x).flatten(1)).squeeze(1)


class TutorialGenerator(nn.Module):
    """The PyTorch DCGAN tutorial's generator: 4x4 transposed convolutions, ngf * 8 channels at 4x4 for 64x64."""

    def __init__(self, z_dim: int = 100, resolution: int = 64, width: int = 64):
        super().__init__()
        levels = _levels(resolution)
        self.z_dim, self.resolution = z_dim, resolution
        channels = width * 2 ** (levels - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, channels, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(channels), nn.ReLU(True)]
        for _ in range(levels - 1):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(channels // 2), nn.ReLU(True)]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # z: [N, z_dim] -> [N, 3, R, R] in [-1, 1]
        return self.body(z[:, :, None, None])


class TutorialDiscriminator(nn.Module):
    """The PyTorch DCGAN tutorial's discriminator: 4x4 stride-2 convolutions, a 4x4 valid convolution to one logit."""

    def __init__(self, resolution: int = 64, width: int = 64, norm: str = "batch"):
        super().__init__()
        levels = _levels(resolution)
        layers: list[nn.Module] = [nn.Conv2d(3, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        channels = width
        for _ in range(levels - 1):
            layers.append(nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(channels * 2))
            layers.append(nn.LeakyReLU(0.2, True))
            channels *= 2
        layers.append(nn.Conv2d(channels, 1, 4, 1, 0, bias=False))
        self.body = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [N, 3, R, R] -> logits [N]
        return self.body(x).flatten()
