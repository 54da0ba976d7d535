"""Data-parallel training across processes with torch.distributed, started by `torchrun`.

Each process holds its shard of the images, draws its own latents, and averages gradients with the others
after every backward pass (one flat all-reduce per network and phase: the scheme StyleGAN2-ADA uses, which
unlike the DistributedDataParallel wrapper also covers the double backward of R1, path length and gradient
penalties). Weights start identical (same seed) and stay identical because every process applies the same
averaged gradients. Process 0 writes checkpoints, samples and the log; the others only train.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, TypeVar

import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")
PATIENCE = timedelta(hours=12)  # how long processes wait for another to read the images


@dataclass(frozen=True)
class Group:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def average_gradients(self, module: nn.Module) -> None:
        """Replace each gradient of `module` by its mean over all processes."""
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        chunks = [c.view_as(g) for c, g in zip(flat.split([g.numel() for g in grads]), grads)]
        torch._foreach_copy_(grads, chunks)

    def any(self, *flags: bool) -> list[bool]:
        """Each flag true if it is true in any process (so that all processes take the same branch)."""
        t = torch.tensor([float(f) for f in flags], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return [bool(v) for v in t.tolist()]

    def any_patiently(self, *flags: bool) -> list[bool]:
        """`any`, in a group of its own on the CPU (gloo) that waits up to PATIENCE: for the processes that wait
        while another reads a large dataset, which the training group's NCCL watchdog would end after 10 minutes."""
        waiter = dist.new_group(backend="gloo", timeout=PATIENCE)
        try:
            t = torch.tensor([float(f) for f in flags])
            dist.all_reduce(t, op=dist.ReduceOp.MAX, group=waiter)
            return [bool(v) for v in t.tolist()]
        finally:
            dist.destroy_process_group(waiter)

    def close(self) -> None:
        if dist.is_initialized():
            try:
                dist.barrier()  # nobody tears down while another process still talks to it
            except RuntimeError:
                pass  # a peer already failed; leave anyway
            dist.destroy_process_group()
            # Free now what reference cycles still hold of the process group. Left to the interpreter's
            # shutdown, gloo's threads were torn down too late: about one exit in ten aborted with
            # "terminate called without an active exception" (torch 2.14.1, two CPU processes).
            gc.collect()


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join_from_env(device: str = "auto") -> Group:
    """Join the process group that torchrun describes in the environment (NCCL on GPUs, gloo on CPUs)."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)
    backend = "nccl" if use_cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Group(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                 device=torch.device("cuda", local_rank) if use_cuda else torch.device("cpu"), backend=backend)


class PeerFailed(Exception):
    """Another process failed at the step this one waited on; that process says why."""


def first_on_each_machine(group: Group | None, work: Callable[[], T]) -> T:
    """work() in process 0 of each machine first, then in its other processes: the first decodes a dataset and caches
    it, and the others read that cache, instead of every process decoding the same images at once (each with a
    worker process per core). A first process's exception is raised there, and PeerFailed in all the others."""
    if group is None:
        return work()
    if group.local_rank != 0:
        if group.any_patiently(False)[0]:  # waits for the first processes
            raise PeerFailed()
        return work()
    try:
        result = work()
    except BaseException:
        group.any_patiently(True)
        raise
    if group.any_patiently(False)[0]:  # a first process on another machine failed
        raise PeerFailed()
    return result
