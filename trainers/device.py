"""Choosing and describing the compute device."""

from __future__ import annotations

import torch

from trainers.config import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> the first CUDA GPU when one works, else the CPU. Also 'cpu', 'cuda', 'cuda:N' and 'mps' (Apple
    silicon's GPU, only when asked for: untested by this project). A device this machine lacks, or a name that is
    none of these, is a ConfigError (a ValueError) that says so."""
    if name in ("auto", "", None):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {name!r} is not a device; use auto, cpu, cuda (or cuda:N) or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name} was asked for, but no CUDA GPU is available here; use cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise ConfigError(f"device {name}: this machine has {count} CUDA GPU{'s' * (count != 1)}, cuda:0 to "
                              f"cuda:{count - 1}")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"device {name} needs an Apple-silicon Mac and a PyTorch build for it; use cpu or "
                              "auto")
    elif device.type != "cpu":
        raise ConfigError(f"device {name}: GAN Studio runs on cpu, cuda (or cuda:N) or mps")
    return device


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return "CPU"


def prepare_for_training(device: torch.device) -> None:
    """Process-wide GPU settings for training at fixed shapes: cuDNN picks the fastest algorithm for each
    convolution once, and float32 matrix work may use the TF32 units (bench/train_speed.py measures both;
    its `fp32` variant turns TF32 off)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def cpu_lacks_bf16_units() -> bool:
    """True when the CPU is known to have neither AVX512-BF16 nor AMX, so that bfloat16 work is emulated: on
    this project's AVX2 CPU a bf16 step of `dcgan-tutorial` took 19 times an fp32 one (docs/PERFORMANCE.md).
    False when it has them, or when this torch cannot tell (its checks are private and may move)."""
    try:
        return not (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False


def precision_note(device: torch.device, precision: str) -> str | None:
    """What to tell the user about the precision asked for on this device, if anything."""
    if precision == "bf16" and device.type == "cpu" and cpu_lacks_bf16_units():
        return ("bf16 is emulated on this CPU (it has no AVX512-BF16 or AMX units), so it trains far slower "
                "than fp32: 19 times slower on a 2-core AVX2 CPU; --precision fp32 is faster here")
    return None
