"""Export generators to self-describing ONNX files, with a parity check against torch that must pass.

DCGAN families: one graph, z [N, z_dim] -> image [N, 3, R, R] in [-1, 1].
StyleGAN2: one file holding both halves side by side, so that truncation and style mixing happen between
them: inputs z [N, z_dim] and ws [M, num_ws, w_dim]; outputs ws_out [N, num_ws, w_dim] (the mapping of z)
and image [M, 3, R, R] (the synthesis of ws, with the model's fixed noise, so the same ws always gives the
same image). Feed a zero-row array to the half you do not need.
Metadata (family, sizes, w_avg, step, images seen, versions) lets the file alone be opened and explored.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from trainers import __version__
from trainers.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint
from trainers.config import ConfigError
from trainers.families import Recipe, generator_from_checkpoint

FORMAT = "gan-studio-generator"
FORMAT_VERSION = "1"
PARITY_TOLERANCE = 1e-4
OPSET = 17


class ExportError(Exception):
    """An export that did not produce a correct file; nothing is left at the destination."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    max_abs_diff: float  # worst torch-vs-onnxruntime difference over the parity checks
    metadata: dict[str, str]


class _Combined(nn.Module):
    """StyleGAN2's mapping and synthesis side by side in one graph (fixed noise)."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.g = generator

    def forward(self, z: torch.Tensor, ws: torch.Tensor):
        return self.g.mapping(z), _synthesize(self.g, ws)


def _synthesize(g: nn.Module, ws: torch.Tensor) -> torch.Tensor:
    """The exported synthesis: fixed noise, the ONNX-friendly path, clamped to [-1, 1] like the DCGANs' tanh."""
    return g.synthesis(ws, noise_mode="const", fused=False).clamp(-1.0, 1.0)


def export_onnx(source: str | os.PathLike, out: str | os.PathLike, log=print) -> ExportResult:
    """Export the generator of a run folder or checkpoint to `out` and check it against torch.

    Raises CheckpointError for an unusable source and ExportError when the check fails.
    """
    path = resolve_checkpoint(source)
    state = load_checkpoint(path)
    try:
        recipe = generator_from_checkpoint(state, "cpu")
    except ConfigError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{path} does not match its family's networks: {str(exc).splitlines()[0]}") from None
    return export_generator(recipe, out, step=int(state.get("step", 0)), images_seen=int(state.get("images_seen", 0)),
                            training_seconds=float(state.get("elapsed_s", 0.0)), source=path.name, log=log)


def export_generator(recipe: Recipe, out: str | os.PathLike, *, step: int = 0, images_seen: int = 0,
                     training_seconds: float = 0.0, source: str = "", log=print) -> ExportResult:
    """Export a recipe's sampling generator (on the CPU) to `out`; written only if the parity check passes."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        metadata = _metadata(recipe, step, images_seen, training_seconds, source)
        g = recipe.sampling_generator().eval()
        if recipe.family == "stylegan2":
            _export_graph(_Combined(g), (torch.randn(2, g.z_dim), torch.randn(2, g.num_ws, g.w_dim)), tmp,
                          ["z", "ws"], ["ws_out", "image"],
                          {"z": {0: "n"}, "ws": {0: "m"}, "ws_out": {0: "n"}, "image": {0: "m"}})
        else:
            _export_graph(g, (torch.randn(2, recipe.config.z_dim),), tmp, ["z"], ["image"],
                          {"z": {0: "n"}, "image": {0: "n"}})
        _write_metadata(tmp, metadata)
        diff = check_parity(recipe, tmp)
        log(f"parity with torch: max |difference| {diff:.2e} (limit {PARITY_TOLERANCE:g})")
        if not diff < PARITY_TOLERANCE:
            raise ExportError(f"exported graph differs from torch by {diff:.3g} (limit {PARITY_TOLERANCE:g}); "
                              f"{out} was not written")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(path=out, max_abs_diff=diff, metadata=metadata)


def _export_graph(module, args, path, input_names, output_names, dynamic_axes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # the TorchScript exporter: fast and stable for these convolutional graphs
            torch.onnx.export(module, args, str(path), input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False)
        except TypeError:  # a torch without the TorchScript exporter: the dynamo one
            shapes = {name: {0: torch.export.Dim(axes[0])} for name, axes in dynamic_axes.items()
                      if name in input_names}
            torch.onnx.export(module, args, str(path), input_names=input_names, output_names=output_names,
                              dynamic_shapes=shapes, dynamo=True)


def _metadata(recipe: Recipe, step: int, images_seen: int, training_seconds: float, source: str) -> dict[str, str]:
    config = recipe.config
    g = recipe.sampling_generator()
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "project_version": __version__,
        "family": config.model, "z_dim": str(config.z_dim), "resolution": str(config.resolution),
        "step": str(step), "images_seen": str(images_seen), "training_seconds": f"{training_seconds:.1f}",
        "source": source, "config": json.dumps(config.to_dict()),
    }
    if config.model == "stylegan2":
        meta.update({"w_dim": str(g.w_dim), "num_ws": str(g.num_ws),
                     "w_avg": json.dumps([round(float(v), 7) for v in g.mapping.w_avg.tolist()]),
                     "layers_coarse": json.dumps(g.synthesis.layers_for(4, 8)),
                     "layers_middle": json.dumps(g.synthesis.layers_for(16, 32)),
                     "layers_fine": json.dumps(g.synthesis.layers_for(64))})
    return meta


def _write_metadata(path: Path, metadata: dict[str, str]) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "gan-studio"
    model.doc_string = "GAN Studio generator. " + (
        "Inputs z [N, z_dim] and ws [M, num_ws, w_dim]; outputs ws_out = mapping(z) and image = synthesis(ws) "
        "in [-1, 1]; feed a zero-row array to the half you do not need." if metadata["family"] == "stylegan2"
        else "Input z [N, z_dim]; output image [N, 3, R, R] in [-1, 1].")
    onnx.save(model, str(path))


@torch.no_grad()
def check_parity(recipe: Recipe, path: Path) -> float:
    """Largest |torch - onnxruntime| over random inputs at batch 1 and 8."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    g = recipe.sampling_generator().eval()
    rng = np.random.default_rng(0)
    worst = 0.0
    for n in (1, 8):
        z = rng.standard_normal((n, recipe.config.z_dim)).astype(np.float32)
        if recipe.family == "stylegan2":
            ws = g.mapping(torch.from_numpy(z)).numpy()
            ws = ws + rng.standard_normal(ws.shape).astype(np.float32) * 0.1  # mixed and off-centre ws too
            empty_z = np.zeros((0, g.z_dim), np.float32)
            empty_ws = np.zeros((0, g.num_ws, g.w_dim), np.float32)
            ws_out = session.run(["ws_out"], {"z": z, "ws": empty_ws})[0]
            image = session.run(["image"], {"z": empty_z, "ws": ws})[0]
            worst = max(worst, float(np.abs(ws_out - g.mapping(torch.from_numpy(z)).numpy()).max()),
                        float(np.abs(image - _synthesize(g, torch.from_numpy(ws)).numpy()).max()))
        else:
            image = session.run(["image"], {"z": z})[0]
            worst = max(worst, float(np.abs(image - g(torch.from_numpy(z)).numpy()).max()))
    return worst
