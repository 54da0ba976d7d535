"""Choosing and describing the compute device."""

from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> the first CUDA GPU when one works, else the CPU; a CUDA request without one is an error."""
    if name in ("auto", "", None):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA GPU is available here; use --device cpu")
    return device


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    return "CPU"


def prepare_for_training(device: torch.device) -> None:
    """Process-wide GPU settings for training at fixed shapes: cuDNN picks the fastest algorithm for each
    convolution once, and float32 matrix work may use the TF32 units (bench/train_speed.py measures both;
    its `fp32` variant turns TF32 off)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
