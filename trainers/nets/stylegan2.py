"""StyleGAN2 (Karras et al. 2020) in plain PyTorch: no custom CUDA extension, nothing to compile.

Mapping network: z [N, z_dim] -> ws [N, num_ws, w_dim] (8 layers, learning-rate multiplier 0.01, tracks w_avg).
Synthesis network: ws -> image [N, 3, R, R] in about [-1, 1]; a learned 4x4 constant, modulated/demodulated
3x3 convolutions, per-pixel noise with learned strength, toRGB at every resolution (skip generator).
Discriminator: residual, with a minibatch standard-deviation layer; image -> logits [N].
FIR up/down-sampling ([1, 3, 3, 1]) is written with ordinary padding and depthwise convolutions.

Modulated convolutions have two paths with the same maths: `fused` (one grouped convolution per layer, the
weights modulated per sample) and not fused (scale activations, shared convolution, scale again), which
exports to ONNX with a dynamic batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainers.latent import truncate

SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class Preset:
    w_dim: int
    channel_base: int  # channels at resolution r: min(channel_base // r, channel_max)
    channel_max: int
    mapping_layers: int = 8


# Parameter counts at 64x64 with z_dim 512, generator (mapping included) / discriminator; one 64x64 face on
# onnxruntime on the 2-core CPU (bench/inference_speed.py). Checked in tests/trainers/test_stylegan2.py.
PRESETS: dict[str, Preset] = {
    # 0.33 M / 0.30 M: tests and the demo model.
    "tiny": Preset(w_dim=64, channel_base=1024, channel_max=64),
    # 2.38 M / 1.66 M, about 23 ms a face: the default; 128 channels at every resolution, live on a CPU.
    "small": Preset(w_dim=256, channel_base=8192, channel_max=128),
    # 6.03 M / 5.85 M, about 38 ms a face: 256 channels up to 32x32.
    "medium": Preset(w_dim=256, channel_base=8192, channel_max=256),
    # 23.8 M / 23.4 M: the paper's widths (512 channels up to 32x32), for a GPU.
    "base": Preset(w_dim=512, channel_base=16384, channel_max=512),
}


def channels_at(preset: Preset, resolution: int) -> int:
    return min(preset.channel_base // resolution, preset.channel_max)


# ---------------------------------------------------------------------------------------------------------
# Building blocks


def _fir_kernel(device=None, dtype=None) -> torch.Tensor:
    k = torch.tensor([1.0, 3.0, 3.0, 1.0], device=device, dtype=dtype)
    k = k[:, None] * k[None, :]
    return k / k.sum()  # [4, 4]


class FIR(nn.Module):
    """The [1, 3, 3, 1] FIR filter for `channels` channels, as a depthwise convolution.

    The kernel is a buffer of known shape [C, 1, 4, 4], so graphs export to ONNX with a dynamic batch
    (including a batch of zero) and need no reshapes.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.register_buffer("kernel", _fir_kernel()[None, None].repeat(channels, 1, 1, 1), persistent=False)

    def filter(self, x: torch.Tensor, pad: tuple[int, int], gain: float = 1.0, down: int = 1) -> torch.Tensor:
        """Pad (pad0 before, pad1 after, both axes), filter, and keep every `down`-th pixel."""
        x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
        return F.conv2d(x, self.kernel * gain, stride=down, groups=self.channels)

    def upsample(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] -> [N, C, 2H, 2W]: zero insertion then the filter with gain 4, as one transposed conv."""
        return F.conv_transpose2d(x, self.kernel * 4.0, stride=2, padding=1, groups=self.channels)

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] -> [N, C, H/2, W/2]."""
        return self.filter(x, (1, 1), down=2)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate and an optional learning-rate multiplier."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.bias_gain = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.bias * self.bias_gain if self.bias is not None else None
        x = F.linear(x, self.weight * self.weight_gain, b)
        return F.leaky_relu(x, 0.2) * SQRT2 if self.activate else x


class EqualConv2d(nn.Module):
    """Convolution with equalised learning rate, optional FIR downsampling and leaky ReLU (gain sqrt 2)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, bias: bool = True, activate: bool = True,
                 down: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.activate, self.down, self.kernel = activate, down, kernel
        self.fir = FIR(in_channels) if down else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        if self.down:
            # Blur, then a strided convolution: the pads make [H, W] -> [H/2, W/2] for kernel 1 or 3.
            p = (4 - 2 + self.kernel - 1) // 2
            x = F.conv2d(self.fir.filter(x, (p, p)), w, stride=2)
        else:
            x = F.conv2d(x, w, padding=self.kernel // 2)
        if self.bias is not None:
            x = x + self.bias[None, :, None, None]
        return F.leaky_relu(x, 0.2) * SQRT2 if self.activate else x


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     up: bool = False, fused: bool = True) -> torch.Tensor:
    """x [N, I, H, W], weight [O, I, k, k] (already gain-scaled), styles [N, I] -> [N, O, H', W'].

    H' = H, or 2H + 1 when up (a stride-2 transposed convolution; the caller filters it to 2H).
    """
    n, in_ch, h, w_ = x.shape
    out_ch, _, kh, kw = weight.shape
    if not fused:
        x = x * styles[:, :, None, None]
        if up:
            x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
        else:
            x = F.conv2d(x, weight, padding=kh // 2)
        if demodulate:
            # sum over (in, kh, kw) of (weight * style)^2 == (weight^2 summed over kernel) @ styles^2
            d = torch.rsqrt(styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8)  # [N, O]
            x = x * d[:, :, None, None]
        return x
    w = weight[None] * styles[:, None, :, None, None]  # [N, O, I, k, k]
    if demodulate:
        w = w * torch.rsqrt(w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8)
    x = x.reshape(1, n * in_ch, h, w_)
    if up:
        w = w.transpose(1, 2).reshape(n * in_ch, out_ch, kh, kw)
        x = F.conv_transpose2d(x, w, stride=2, groups=n)
    else:
        x = F.conv2d(x, w.reshape(n * out_ch, in_ch, kh, kw), padding=kh // 2, groups=n)
    return x.reshape(n, out_ch, x.shape[2], x.shape[3])


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution (optionally upsampling), noise, bias, leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.fir = FIR(out_channels) if up else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * 9)
        self.up, self.resolution = up, resolution

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random", fused: bool = True) -> torch.Tensor:
        styles = self.affine(w)
        x = modulated_conv2d(x, self.weight * self.weight_gain, styles, up=self.up, fused=fused)
        if self.up:
            x = self.fir.filter(x, (1, 1), gain=4.0)  # [2H + 1] -> [2H]
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device, dtype=x.dtype)
            x = x + noise * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        return F.leaky_relu(x + self.bias[None, :, None, None], 0.2) * SQRT2


class ToRGB(nn.Module):
    def __init__(self, in_channels: int, w_dim: int):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(3, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(3))
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool = True) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused)
        return x + self.bias[None, :, None, None]


class SynthesisBlock(nn.Module):
    """One resolution: (upsampling conv,) conv, toRGB; the RGB image is upsampled and summed (skip)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int):
        super().__init__()
        self.resolution = resolution
        self.is_first = resolution == 4
        if self.is_first:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution)
        self.torgb = ToRGB(out_channels, w_dim)
        self.num_conv = 1 if self.is_first else 2
        self.fir = FIR(3)

    def forward(self, x, img, ws, noise_mode: str, fused: bool):
        # ws: [N, num_conv + 1, w_dim]; the last one drives toRGB
        i = 0
        if self.is_first:
            x = self.const[None].repeat(ws.shape[0], 1, 1, 1)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode, fused)
            i = 1
        x = self.conv1(x, ws[:, i], noise_mode, fused)
        y = self.torgb(x, ws[:, i + 1], fused)
        img = y if img is None else self.fir.upsample(img) + y
        return x, img


class SynthesisNetwork(nn.Module):
    def __init__(self, w_dim: int, resolution: int, preset: Preset):
        super().__init__()
        self.w_dim, self.resolution = w_dim, resolution
        self.resolutions = [2**i for i in range(2, int(math.log2(resolution)) + 1)]
        blocks, in_ch = [], 0
        for r in self.resolutions:
            out_ch = channels_at(preset, r)
            blocks.append(SynthesisBlock(in_ch, out_ch, w_dim, r))
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.num_ws = sum(b.num_conv for b in self.blocks) + 1
        self.fused = True

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", fused: bool | None = None) -> torch.Tensor:
        # ws: [N, num_ws, w_dim] -> img [N, 3, R, R]
        fused = self.fused if fused is None else fused
        x = img = None
        index = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, index : index + block.num_conv + 1], noise_mode, fused)
            index += block.num_conv
        return img

    def layers_for(self, low: int, high: int | None = None) -> list[int]:
        """Indices into ws of the layers that draw resolutions low..high (inclusive), e.g. (4, 8) = coarse."""
        high = high or self.resolution
        # ws[0] drives the 4x4 conv; ws[2k - 1], ws[2k] the convs at 4 * 2^k; toRGB at 4 * 2^k shares ws[2k + 1]
        # with the next block's first conv. As in the paper: coarse (4-8) = ws[0:4], middle (16-32) = ws[4:8].
        first = 0 if low <= 4 else 2 * int(math.log2(low // 4))
        last = 2 * int(math.log2(min(high, self.resolution) // 4)) + 1
        return list(range(first, min(last, self.num_ws - 1) + 1))


class MappingNetwork(nn.Module):
    def __init__(self, z_dim: int, w_dim: int, num_ws: int, layers: int = 8, lr_mul: float = 0.01,
                 w_avg_beta: float = 0.995):
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.w_avg_beta = z_dim, w_dim, num_ws, w_avg_beta
        dims = [z_dim] + [w_dim] * layers
        self.net = nn.Sequential(*[EqualLinear(dims[i], dims[i + 1], lr_mul=lr_mul, activate=True)
                                   for i in range(layers)])
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, psi: float = 1.0, cutoff: int | None = None,
                update_w_avg: bool = False) -> torch.Tensor:
        # z: [N, z_dim] -> ws [N, num_ws, w_dim]
        z = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        w = self.net(z)
        if update_w_avg:
            self.w_avg.copy_(w.detach().mean(0).to(self.w_avg.dtype).lerp(self.w_avg, self.w_avg_beta))
        ws = w[:, None].repeat(1, self.num_ws, 1)
        if psi != 1.0:
            ws = self.truncate(ws, psi, cutoff)
        return ws

    def truncate(self, ws: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
        return truncate(ws, self.w_avg, psi, cutoff)


class Generator(nn.Module):
    """mapping(z) -> ws, synthesis(ws) -> image; forward does both, with style mixing while training."""

    def __init__(self, z_dim: int = 512, resolution: int = 64, preset: str | Preset = "small"):
        super().__init__()
        preset = PRESETS[preset] if isinstance(preset, str) else preset
        self.z_dim, self.w_dim, self.resolution = z_dim, preset.w_dim, resolution
        self.synthesis = SynthesisNetwork(preset.w_dim, resolution, preset)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, preset.w_dim, self.num_ws, preset.mapping_layers)

    def forward(self, z: torch.Tensor, psi: float = 1.0, cutoff: int | None = None, noise_mode: str = "random",
                ) -> torch.Tensor:
        # z: [N, z_dim] -> [N, 3, R, R]
        return self.synthesis(self.mapping(z, psi, cutoff), noise_mode=noise_mode)

    def mixed_ws(self, z: torch.Tensor, mixing_prob: float, update_w_avg: bool = True) -> torch.Tensor:
        """Training-time ws: with probability mixing_prob, layers from a random cutoff on come from a second z.

        The draw stays on the device (no host synchronisation, so a step can be a CUDA graph): the second
        mapping always runs, and a cutoff of num_ws keeps the first latent everywhere.
        """
        ws = self.mapping(z, update_w_avg=update_w_avg)
        if mixing_prob <= 0:
            return ws
        ws2 = self.mapping(torch.randn_like(z))
        cutoff = torch.randint(1, self.num_ws, [], device=z.device)
        cutoff = torch.where(torch.rand([], device=z.device) < mixing_prob, cutoff, torch.full_like(cutoff, self.num_ws))
        second = torch.arange(self.num_ws, device=z.device) >= cutoff  # [num_ws]: layers from the second latent
        return torch.where(second[None, :, None], ws2, ws)


class DiscriminatorBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, down=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, activate=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.skip(x) + self.conv1(self.conv0(x))) * math.sqrt(0.5)


class Discriminator(nn.Module):
    """Residual discriminator: fromRGB, blocks down to 4x4, minibatch std, conv, two fully connected layers."""

    def __init__(self, resolution: int = 64, preset: str | Preset = "small", mbstd_group: int = 4):
        super().__init__()
        preset = PRESETS[preset] if isinstance(preset, str) else preset
        self.resolution, self.mbstd_group = resolution, mbstd_group
        self.from_rgb = EqualConv2d(3, channels_at(preset, resolution), 1)
        blocks, r = [], resolution
        while r > 4:
            blocks.append(DiscriminatorBlock(channels_at(preset, r), channels_at(preset, r // 2)))
            r //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = channels_at(preset, 4)
        self.conv = EqualConv2d(c4 + 1, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4, activate=True)
        self.out = EqualLinear(c4, 1)

    def minibatch_std(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = next(k for k in range(min(self.mbstd_group, n), 0, -1) if n % k == 0)
        y = x.reshape(g, -1, c, h, w)  # [G, M, C, H, W]: statistics across each group's members
        y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt()  # [M, C, H, W]
        y = y.mean(dim=[1, 2, 3])  # [M]
        y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)  # [N, 1, H, W]
        return torch.cat([x, y], dim=1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        # img: [N, 3, R, R] -> logits [N]
        x = self.blocks(self.from_rgb(img))
        x = self.conv(self.minibatch_std(x))
        return self.out(self.fc(x.flatten(1))).squeeze(1)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def style_mixing_grid(row_faces: np.ndarray, column_faces: np.ndarray, mixed: np.ndarray) -> np.ndarray:
    """The StyleGAN paper's figure: [R] row faces down the left, [C] column faces along the top, and
    mixed [R, C] in between. All uint8 [.., 3, H, W] -> one [(R+1)*H, (C+1)*W, 3] image with a blank corner."""
    r, c = mixed.shape[:2]
    h, w = row_faces.shape[-2:]
    canvas = np.full((3, (r + 1) * h, (c + 1) * w), 255, np.uint8)
    for j in range(c):
        canvas[:, :h, (j + 1) * w : (j + 2) * w] = column_faces[j]
    for i in range(r):
        canvas[:, (i + 1) * h : (i + 2) * h, :w] = row_faces[i]
        for j in range(c):
            canvas[:, (i + 1) * h : (i + 2) * h, (j + 1) * w : (j + 2) * w] = mixed[i, j]
    return canvas.transpose(1, 2, 0)
