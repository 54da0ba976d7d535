"""Whole training steps as CUDA graphs: each kind of step is captured once and replayed with new images.

The networks of these families are small, so on a GPU a step's time goes to launching its hundreds of
kernels from Python rather than to the kernels themselves. A CUDA graph launches them all at once. A
recipe's `train_on(real, phase)` holds only device work (random latents, augmentations and style-mixing
draws come from the device's generator, which graphs advance on every replay), so a replay computes what an
eager step would; the images of each step are copied into the graph's input first.

Steps of different kinds (StyleGAN2's lazy regularisers run every 4th or 16th step) get a graph each. The
optimizers run in their `capturable` form, which keeps their step counts on the device. Graphs are dropped
and captured again after anything replaces the tensors or numbers they hold: restoring a checkpoint, a new
learning rate, gradient accumulation after running out of memory. A capture that fails is reported once
and the run goes on eagerly.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Hashable

import torch

if TYPE_CHECKING:
    from trainers.families import Recipe


def set_capturable(optimizer: torch.optim.Optimizer, on: bool) -> None:
    """Switch an optimizer between its capturable form (step counts on the device) and the plain one.

    Also repairs state loaded from a checkpoint written in the other form.
    """
    fused = False
    for group in optimizer.param_groups:
        if "capturable" in group:
            group["capturable"] = on
        fused = fused or bool(group.get("fused"))
    for param, state in optimizer.state.items():
        step = state.get("step")
        if torch.is_tensor(step):
            device = param.device if (on or fused) else torch.device("cpu")
            state["step"] = step.to(device=device, dtype=torch.float32)


class StepGraphs:
    """Captured steps of one recipe, keyed by the step's phase and the gradient-accumulation factor."""

    def __init__(self, recipe: "Recipe", warmup: int = 2):
        self.recipe = recipe
        self.warmup = warmup  # eager runs of each kind of step before it is captured
        self.captured: dict[Hashable, tuple[torch.cuda.CUDAGraph, torch.Tensor, dict[str, torch.Tensor]]] = {}
        self.eager_runs: Counter = Counter()
        self.side = torch.cuda.Stream(device=recipe.device)
        self.failure: str | None = None  # why capturing failed, once it has: the run goes on eagerly

    def clear(self) -> None:
        self.captured.clear()
        self.eager_runs.clear()

    def run(self, phase: Hashable, real: torch.Tensor) -> dict[str, torch.Tensor]:
        key = (phase, self.recipe.accumulation)
        entry = self.captured.get(key)
        if entry is None:
            if self.failure is not None or self.eager_runs[key] < self.warmup:
                self.eager_runs[key] += 1
                return self._eager(phase, real)
            entry = self._capture(key, phase, real)
            if entry is None:
                return self._eager(phase, real)
        graph, static_real, stats = entry
        static_real.copy_(real)
        graph.replay()
        return stats

    def _eager(self, phase: Hashable, real: torch.Tensor) -> dict[str, torch.Tensor]:
        # Warm-up runs go on a side stream, as CUDA graph capture asks (lazy initialisation, cuDNN's choices).
        main = torch.cuda.current_stream(self.recipe.device)
        self.side.wait_stream(main)
        with torch.cuda.stream(self.side):
            stats = self.recipe.work(real, phase)
        main.wait_stream(self.side)
        return stats

    def _capture(self, key: Hashable, phase: Hashable, real: torch.Tensor):
        static_real = real.clone()
        for opt in self.recipe.optimizers.values():
            opt.zero_grad(set_to_none=True)  # gradients are then allocated in the graph's own memory
        graph = torch.cuda.CUDAGraph()
        try:
            # thread_local: the studio may run onnxruntime on the GPU in another thread meanwhile.
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                stats = self.recipe.work(static_real, phase)
        except torch.OutOfMemoryError:
            raise
        except RuntimeError as exc:
            self.failure = f"{type(exc).__name__}: {exc}".splitlines()[0]
            self.recipe.notices.append(f"CUDA graphs could not capture a training step ({self.failure}); "
                                       "training goes on without them")
            self.recipe.restore_requires_grad()
            for opt in self.recipe.optimizers.values():
                opt.zero_grad(set_to_none=True)
            return None
        entry = (graph, static_real, stats)
        self.captured[key] = entry
        return entry
