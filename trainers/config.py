"""Run configuration: one frozen dataclass with typed, commented defaults, and each family's own defaults.

The CLI and the GUI both build a `TrainConfig` with `TrainConfig.for_family(name, **overrides)`; any field
left as None takes the family's default, so a saved config always holds the values that were really used.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

FAMILIES = ("dcgan", "dcgan-tutorial", "wgan-clip", "wgan-gp", "stylegan2")

# What makes each family itself. Fields not named here fall back to the dataclass defaults.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    # The classic assignment's sample: Linear + BatchNorm1d to 4x4x512, 5x5 transposed convolutions,
    # 5x5 strided-conv discriminator with sigmoid, BCE, Adam 1e-4 (0.5, 0.999), z 100.
    "dcgan": dict(optimizer="adam", lr_g=1e-4, lr_d=1e-4, beta1=0.5, beta2=0.999, z_dim=100,
                  g_width=512, d_width=64, linear=True, n_critic=1),
    # The PyTorch DCGAN tutorial: 4x4 kernels, no Linear layer, Adam 2e-4 (0.5, 0.999), ngf = ndf = 64.
    "dcgan-tutorial": dict(optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, z_dim=100,
                           g_width=64, d_width=64, linear=False, n_critic=1),
    # WGAN (Arjovsky et al. 2017): critic without sigmoid, RMSprop 5e-5, weights clipped to +-0.01.
    # The sample generator without its Linear first layer; `linear=True` (--linear) restores it.
    "wgan-clip": dict(optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, z_dim=100, g_width=512, d_width=64,
                      linear=False, n_critic=5, clip=0.01),
    # WGAN-GP (Gulrajani et al. 2017): gradient penalty 10, Adam 1e-4 (0.0, 0.9), n_critic 5,
    # no batch normalisation in the critic (the penalty is per sample).
    "wgan-gp": dict(optimizer="adam", lr_g=1e-4, lr_d=1e-4, beta1=0.0, beta2=0.9, z_dim=100,
                    g_width=512, d_width=64, linear=True, n_critic=5, gp_weight=10.0),
    # StyleGAN2 (Karras et al. 2020) at small scale: Adam 2e-3 (0, 0.99), lazy R1 and path length.
    "stylegan2": dict(optimizer="adam", lr_g=2e-3, lr_d=2e-3, beta1=0.0, beta2=0.99, z_dim=512,
                      g_width=0, d_width=0, linear=False, n_critic=1),
}

# Resolutions each family's architecture supports.
RESOLUTIONS: dict[str, tuple[int, ...]] = {
    "dcgan": (32, 64, 128),
    "dcgan-tutorial": (32, 64, 128),
    "wgan-clip": (32, 64, 128),
    "wgan-gp": (32, 64, 128),
    "stylegan2": (32, 64, 128, 256),
}


class ConfigError(ValueError):
    """A configuration that cannot run; the message says which value and why."""


@dataclass(frozen=True)
class TrainConfig:
    model: str = "dcgan"  # family name, one of FAMILIES
    data: str = ""  # folder of images
    out: str = "runs/run"  # run folder: config, checkpoints, samples/, log.jsonl
    resolution: int = 64  # training images are resized to resolution x resolution
    batch: int = 64  # images per discriminator step
    steps: int | None = None  # generator steps to train; None with epochs/minutes unset means 1,000
    epochs: float | None = None  # passes over the dataset (alternative to steps)
    minutes: float | None = None  # wall-clock budget (combines with steps/epochs: first limit wins)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    seed: int = 0  # seeds weights, data order and latent draws
    cuda_graphs: bool = False  # capture whole steps as CUDA graphs and replay them (one CUDA device; same maths)
    channels_last: bool = False  # networks and images in channels_last memory layout (same maths)
    precision: str = "fp32"  # fp32 | bf16 (autocast: matrix work in bfloat16, losses and weights in float32)

    # Family hyperparameters (None = the family's default).
    optimizer: str | None = None  # adam | rmsprop
    lr_g: float | None = None  # generator learning rate
    lr_d: float | None = None  # discriminator / critic learning rate
    beta1: float | None = None  # Adam beta1
    beta2: float | None = None  # Adam beta2
    z_dim: int | None = None  # latent size
    g_width: int | None = None  # generator width (channels at 4x4 for dcgan/wgan, ngf for the tutorial)
    d_width: int | None = None  # discriminator width (channels of its first layer)
    linear: bool | None = None  # sample architecture: Linear + BatchNorm1d first layer in the generator
    n_critic: int | None = None  # discriminator steps per generator step
    clip: float | None = None  # wgan-clip: critic weights are clipped to [-clip, clip]
    gp_weight: float | None = None  # wgan-gp: gradient penalty weight (lambda)

    # StyleGAN2 (ignored by the other families).
    preset: str = "small"  # capacity preset: tiny | small | medium | base (see trainers/nets/stylegan2.py)
    r1_gamma: float = 0.1  # R1 weight on reals (lazy, every r1_every D steps)
    r1_every: int = 16
    pl_weight: float = 2.0  # path-length regularisation weight (lazy, every pl_every G steps)
    pl_every: int = 4
    style_mixing: float = 0.9  # probability of mixing two latents during training
    ema_kimg: float = 10.0  # EMA half-life in thousands of images
    diffaugment: str = ""  # comma list of translation,cutout,color; empty = off
    fused_modconv: bool = False  # grouped-convolution modulation while training (same maths; slower on CPU)

    # Data.
    flip: bool = True  # random horizontal flips, applied on the tensor
    holdout: int = 0  # the last N images (sorted by path) never train: score on them with eval --real-last N

    # Recovery.
    divergence_lr_scale: float = 0.5  # on NaN/Inf: roll back to the last checkpoint, learning rates times this
    max_rollbacks: int = 3  # give up after this many rollbacks in one session
    collapse_threshold: float = 0.3  # warn when snapshot faces vary less than this fraction of real ones
    collapse_after: int = 20_000  # ... once this many images were seen (every GAN starts out uniform)

    # Bookkeeping.
    log_every: int = 20  # steps between progress events (losses are read back from the device only then)
    sample_every: int = 200  # steps between snapshot grids
    checkpoint_every: int = 1000  # steps between checkpoints (one is always written at the end)
    keep_checkpoints: int = 3  # how many step checkpoints to keep (the newest)
    score_every: int = 0  # steps between quality scores (SWD against real faces) while training; 0 = never
    score_n: int = 1024  # generated and real faces per score (fewer when the reference set is smaller)
    grid_size: int = 8  # snapshot grids show grid_size x grid_size faces from fixed seeds

    extra: dict[str, Any] = field(default_factory=dict)  # reserved for forward-compatible keys

    @classmethod
    def for_family(cls, model: str, **overrides: Any) -> "TrainConfig":
        """A config for `model` with the family's defaults, then `overrides` (None values are skipped)."""
        if model not in FAMILY_DEFAULTS:
            raise ConfigError(f"unknown model family {model!r}; choose one of: {', '.join(FAMILIES)}")
        values = dict(FAMILY_DEFAULTS[model])
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        config = cls(model=model, **{k: v for k, v in values.items() if k != "model"})
        config.validate()
        return config

    def validate(self) -> None:
        if self.model not in FAMILIES:
            raise ConfigError(f"unknown model family {self.model!r}; choose one of: {', '.join(FAMILIES)}")
        if self.resolution not in RESOLUTIONS[self.model]:
            allowed = ", ".join(map(str, RESOLUTIONS[self.model]))
            raise ConfigError(f"{self.model} supports resolutions {allowed}, not {self.resolution}")
        if self.batch < 1:
            raise ConfigError(f"batch must be at least 1, not {self.batch}")
        if self.model == "stylegan2" and self.batch < 2:
            raise ConfigError("stylegan2 needs a batch of at least 2 (minibatch standard deviation)")
        if self.model != "stylegan2" and self.linear and self.batch < 2:
            raise ConfigError(f"{self.model} with its Linear first layer needs a batch of at least 2 (its BatchNorm1d "
                              "normalises over the batch)")
        for name in ("steps", "epochs", "minutes"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name} must be positive, not {value}")
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name} must be positive, not {value}")
        if self.holdout < 0:
            raise ConfigError(f"holdout must be 0 or more, not {self.holdout}")
        if self.score_every < 0:
            raise ConfigError(f"score_every must be 0 (off) or more, not {self.score_every}")
        if self.score_n < 2:
            raise ConfigError(f"score_n must be at least 2, not {self.score_n}")
        if self.n_critic is not None and self.n_critic < 1:
            raise ConfigError(f"n_critic must be at least 1, not {self.n_critic}")
        if self.z_dim is not None and self.z_dim < 1:
            raise ConfigError(f"z_dim must be at least 1, not {self.z_dim}")
        if self.model == "stylegan2":
            from trainers.nets.stylegan2 import PRESETS

            if self.preset not in PRESETS:
                raise ConfigError(f"unknown stylegan2 preset {self.preset!r}; choose one of: {', '.join(PRESETS)}")
            from trainers import augment

            try:
                augment.parse(self.diffaugment)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if self.precision not in ("fp32", "bf16"):
            raise ConfigError(f"precision must be fp32 or bf16, not {self.precision!r}")
        if self.optimizer not in (None, "adam", "rmsprop"):
            raise ConfigError(f"optimizer must be adam or rmsprop, not {self.optimizer!r}")
        for name in ("log_every", "sample_every", "checkpoint_every", "keep_checkpoints", "grid_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")

    def with_(self, **changes: Any) -> "TrainConfig":
        """A copy with some fields changed (validated)."""
        config = dataclasses.replace(self, **changes)
        config.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Rebuild a saved config; keys from a newer version are kept in `extra`, not fatal."""
        known = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in values.items() if k in known}
        extra = dict(kept.pop("extra", {}) or {})
        extra.update({k: v for k, v in values.items() if k not in known})
        config = cls(**kept, extra=extra)
        config.validate()
        return config

    @property
    def planned_steps(self) -> int | None:
        """Steps when bounded by steps; None when only epochs or minutes bound the run."""
        if self.steps is not None:
            return self.steps
        if self.epochs is None and self.minutes is None:
            return 1000
        return None
