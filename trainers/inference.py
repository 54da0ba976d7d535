"""The inference engine: open a generator (an exported `.onnx`, or a checkpoint through torch) and make faces.

Qt-free; the studio and the CLI both use it. ONNX models run on onnxruntime with the CUDA provider when a
session really runs on it (checked with `session.get_providers()`), otherwise on the CPU; `provider` says
which. Outputs are numpy: uint8 images [N, 3, R, R], float32 latents.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from trainers.config import FAMILIES
from trainers.data import ImageSet
from trainers.images import to_uint8
from trainers.latent import style_mix, truncate, z_from_seeds_np

ONNX_FORMAT = "gan-studio-generator"


class ModelError(Exception):
    """A model file that cannot be opened or used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class ModelInfo:
    path: str
    family: str
    z_dim: int
    resolution: int
    step: int
    images_seen: int
    training_seconds: float
    provider: str  # what runs it: "CUDAExecutionProvider", "CPUExecutionProvider", "torch (cpu)" ...
    w_dim: int | None = None  # StyleGAN2 only, like the fields below
    num_ws: int | None = None
    w_avg: np.ndarray | None = field(default=None, repr=False)
    layers: dict[str, list[int]] = field(default_factory=dict)  # "coarse", "middle", "fine" -> ws indices
    config: dict = field(default_factory=dict, repr=False)

    @property
    def style_based(self) -> bool:
        return self.w_dim is not None

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def run_folder(self) -> Path | None:
        """The run a checkpoint belongs to (RUN/checkpoints/step-N.pt -> RUN); None for any other model file."""
        path = Path(self.path)
        return path.parent.parent if path.parent.name == "checkpoints" and path.parent.parent.name else None

    @property
    def label(self) -> str:
        """How the studio shows the model: its file name, after its run's folder for a run's checkpoint
        (RUN/checkpoints/step-N.pt -> "RUN/step-N.pt"), so that two runs' checkpoints never look alike."""
        run = self.run_folder
        return f"{run.name}/{Path(self.path).name}" if run is not None else Path(self.path).name

    @property
    def stem(self) -> str:
        """How files made from the model begin: FAMILY-LABEL without its suffix ("dcgan-myrun-step-000001000"),
        the family left out when the label already starts with it ("stylegan2.onnx" -> "stylegan2"), but not
        when it starts with another family's name (a dcgan in "dcgan-tutorial.onnx" -> "dcgan-dcgan-tutorial")."""
        label = os.path.splitext(self.label)[0].replace("/", "-")
        named = [f for f in FAMILIES if label == f or label.startswith(f + "-")]
        return label if max(named, key=len, default=None) == self.family else f"{self.family}-{label}"

    @property
    def home(self) -> Path:
        """Where files made from the model belong by default: its run's folder, else the model file's folder."""
        return self.run_folder or Path(self.path).parent


class GeneratorModel:
    """What every opened model can do. Subclasses implement `_generate_z`, `_map` and `_synthesize`."""

    info: ModelInfo

    def generate(self, seeds: Sequence[int] | None = None, z: np.ndarray | None = None, truncation: float = 1.0,
                 cutoff: int | None = None) -> np.ndarray:
        """Faces for seeds (one per seed, the same as in training snapshots) or for z [N, z_dim] -> uint8 [N, 3, R, R]."""
        z = self.latents(seeds) if z is None else np.asarray(z, np.float32)
        if self.info.style_based:
            return self.synthesize(self.map(z, truncation, cutoff))
        if truncation != 1.0:
            raise ModelError(f"truncation needs a StyleGAN2 model; {self.info.name} is {self.info.family}")
        return to_uint8(self._generate_z(z))

    def generate_many(self, seeds: Sequence[int], truncation: float = 1.0, batch: int = 64,
                      each=None) -> np.ndarray:
        """Faces for many seeds, `batch` at a time; each(done, total) is called after every batch (a progress
        bar, or a cancel that raises). -> uint8 [N, 3, R, R]."""
        seeds, parts = list(seeds), []
        for i in range(0, len(seeds), batch):
            parts.append(self.generate(seeds[i : i + batch], truncation=truncation))
            if each is not None:
                each(i + len(parts[-1]), len(seeds))
        return np.concatenate(parts)

    def latents(self, seeds: Sequence[int]) -> np.ndarray:
        return z_from_seeds_np(seeds, self.info.z_dim)

    def map(self, z: np.ndarray, truncation: float = 1.0, cutoff: int | None = None) -> np.ndarray:
        """z [N, z_dim] -> ws [N, num_ws, w_dim] (StyleGAN2), truncated towards w_avg when psi < 1."""
        self._need_styles("map")
        ws = self._map(np.asarray(z, np.float32))
        return truncate(ws, self.info.w_avg, truncation, cutoff) if truncation != 1.0 else ws

    def synthesize(self, ws: np.ndarray) -> np.ndarray:
        """ws [N, num_ws, w_dim] -> uint8 [N, 3, R, R]; the same ws always gives the same face."""
        self._need_styles("synthesize")
        return to_uint8(self._synthesize(np.asarray(ws, np.float32)))

    def style_mix(self, ws_rows: np.ndarray, ws_columns: np.ndarray, layers: Sequence[int]) -> np.ndarray:
        """Each column's ws with `layers` taken from each row's -> ws [R * C, num_ws, w_dim], row-major."""
        self._need_styles("style_mix")
        r, c = len(ws_rows), len(ws_columns)
        cols = np.repeat(ws_columns[None], r, axis=0).reshape(r * c, *ws_columns.shape[1:])
        rows = np.repeat(ws_rows[:, None], c, axis=1).reshape(r * c, *ws_rows.shape[1:])
        return style_mix(cols, rows, list(layers))

    def _need_styles(self, what: str) -> None:
        if not self.info.style_based:
            raise ModelError(f"{what} needs a StyleGAN2 model; {self.info.name} is {self.info.family}")

    def _generate_z(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _map(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _synthesize(self, ws: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class OnnxGenerator(GeneratorModel):
    """An exported generator on onnxruntime, with I/O binding for repeated calls."""

    def __init__(self, path: str | os.PathLike, provider: str = "auto"):
        import onnxruntime as ort

        ort.set_default_logger_severity(3)  # a CUDA provider that cannot load is reported through `provider`
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{path} does not exist")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = os.cpu_count() or 1
        wanted = ["CPUExecutionProvider"]
        if provider in ("auto", "cuda") and "CUDAExecutionProvider" in ort.get_available_providers() and _has_cuda_driver():
            wanted.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=wanted)
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable graphs
            raise ModelError(f"{path} is not a readable ONNX model (truncated, corrupt or not ONNX): "
                             f"{str(exc).splitlines()[0][:300]}") from None
        running = self.session.get_providers()[0]  # the provider that really runs, not one merely installed
        if provider == "cuda" and running != "CUDAExecutionProvider":
            raise ModelError("the CUDA provider was asked for but does not run here")
        self.device = "cuda" if running == "CUDAExecutionProvider" else "cpu"
        self.info = _onnx_info(path, self.session, running)
        self._check_signature(path)

    def _check_signature(self, path: Path) -> None:
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        info = self.info
        if info.style_based:
            expected_in, expected_out = {"z": [info.z_dim], "ws": [info.num_ws, info.w_dim]}, {"ws_out", "image"}
        else:
            expected_in, expected_out = {"z": [info.z_dim]}, {"image"}
        if set(inputs) != set(expected_in) or not expected_out <= outputs:
            raise ModelError(f"{path} has inputs {sorted(inputs)} and outputs {sorted(outputs)}; a {info.family} "
                             f"model has inputs {sorted(expected_in)} and outputs {sorted(expected_out)}")
        for name, dims in expected_in.items():
            if list(inputs[name][1:]) != dims:
                raise ModelError(f"{path}: input {name} has shape {inputs[name]}, expected [batch, "
                                 f"{', '.join(map(str, dims))}] from its metadata")

    def _run(self, output: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
        binding = self.session.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(value, dtype=np.float32))
        binding.bind_output(output, self.device)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]

    def _generate_z(self, z):
        return self._run("image", {"z": z})

    def _map(self, z):
        empty = np.zeros((0, self.info.num_ws, self.info.w_dim), np.float32)
        return self._run("ws_out", {"z": z, "ws": empty})

    def _synthesize(self, ws):
        return self._run("image", {"z": np.zeros((0, self.info.z_dim), np.float32), "ws": ws})


def _has_cuda_driver() -> bool:
    """Whether the NVIDIA driver library loads: onnxruntime-gpu lists its CUDA provider even without one."""
    import ctypes

    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def _onnx_info(path: Path, session, provider: str) -> ModelInfo:
    meta = session.get_modelmeta().custom_metadata_map
    if meta.get("format") != ONNX_FORMAT:
        raise ModelError(f"{path} is an ONNX model without GAN Studio's metadata (family, sizes); "
                         "export it with `python -m trainers export` to explore it here")
    try:
        family = meta["family"]
        style = family == "stylegan2"
        return ModelInfo(
            path=str(path), family=family, z_dim=int(meta["z_dim"]), resolution=int(meta["resolution"]),
            step=int(meta.get("step", 0)), images_seen=int(meta.get("images_seen", 0)),
            training_seconds=float(meta.get("training_seconds", 0.0)), provider=provider,
            w_dim=int(meta["w_dim"]) if style else None, num_ws=int(meta["num_ws"]) if style else None,
            w_avg=np.asarray(json.loads(meta["w_avg"]), np.float32) if style else None,
            layers={k: json.loads(meta[f"layers_{k}"]) for k in ("coarse", "middle", "fine")} if style else {},
            config=json.loads(meta.get("config", "{}")))
    except (KeyError, ValueError) as exc:
        raise ModelError(f"{path} has incomplete GAN Studio metadata ({exc})") from None


class TorchGenerator(GeneratorModel):
    """A checkpoint run through torch: the fallback when there is no exported file."""

    def __init__(self, path: str | os.PathLike, device: str = "auto"):
        import torch

        from trainers.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint
        from trainers.config import ConfigError
        from trainers.device import resolve_device
        from trainers.families import generator_from_checkpoint

        self._torch = torch
        try:
            ckpt = resolve_checkpoint(path)
            state = load_checkpoint(ckpt)
            self.device = resolve_device(device)
            self.recipe = generator_from_checkpoint(state, self.device)
        except CheckpointError as exc:
            raise ModelError(str(exc)) from None
        except ConfigError as exc:
            raise ModelError(f"{path}: {exc}") from None
        except ValueError as exc:  # a device this machine lacks
            raise ModelError(str(exc)) from None
        except (KeyError, RuntimeError) as exc:
            raise ModelError(f"{path} does not match its family's networks: {str(exc).splitlines()[0]}") from None
        config = self.recipe.config
        g = self.recipe.sampling_generator().eval()
        self.g = g
        style = config.model == "stylegan2"
        self.info = ModelInfo(
            path=str(ckpt), family=config.model, z_dim=config.z_dim, resolution=config.resolution,
            step=int(state.get("step", 0)), images_seen=int(state.get("images_seen", 0)),
            training_seconds=float(state.get("elapsed_s", 0.0)), provider=f"torch ({self.device.type})",
            w_dim=g.w_dim if style else None, num_ws=g.num_ws if style else None,
            w_avg=g.mapping.w_avg.cpu().numpy() if style else None,
            layers={"coarse": g.synthesis.layers_for(4, 8), "middle": g.synthesis.layers_for(16, 32),
                    "fine": g.synthesis.layers_for(64)} if style else {},
            config=config.to_dict())

    def _tensor(self, x: np.ndarray):
        return self._torch.from_numpy(np.ascontiguousarray(x)).to(self.device)

    def _generate_z(self, z):
        with self._torch.no_grad():
            return self.g(self._tensor(z)).cpu().numpy()

    def _map(self, z):
        with self._torch.no_grad():
            return self.g.mapping(self._tensor(z)).cpu().numpy()

    def _synthesize(self, ws):
        with self._torch.no_grad():
            return self.g.synthesis(self._tensor(ws), noise_mode="const").cpu().numpy()


class ImageSetModel(GeneratorModel):
    """A set of images (a folder or a zip) shown and scored where a model's faces go: Compare's row of real
    faces beside the models', or samples made elsewhere. Seed s shows image `index(s)` of a fixed shuffle, so
    a row changes with its seeds as a model's does; there is no latent space, so only `generate(seeds)` works."""

    def __init__(self, images: ImageSet, path: str | os.PathLike | None = None):
        if len(images) == 0:
            raise ModelError(f"{path or images.report.folder} holds no usable image")
        self.images = images
        self.order = np.random.default_rng(0).permutation(len(images))
        self.info = ModelInfo(path=os.fspath(path or images.report.folder), family="images", z_dim=0,
                              resolution=images.resolution, step=0, images_seen=0, training_seconds=0.0,
                              provider="files")

    def index(self, seed: int) -> int:
        """Which image seed `seed` shows (an index into `images`)."""
        return int(self.order[seed % len(self.order)])

    def generate(self, seeds: Sequence[int] | None = None, z: np.ndarray | None = None, truncation: float = 1.0,
                 cutoff: int | None = None) -> np.ndarray:
        if seeds is None or z is not None or truncation != 1.0:
            raise ModelError(f"{self.info.name} is a set of images: it shows an image per seed and has no latent "
                             "space")
        return self.images.images[[self.index(s) for s in seeds]]


def open_model(path: str | os.PathLike, provider: str = "auto") -> GeneratorModel:
    """An `.onnx` file through onnxruntime; a checkpoint or run folder through torch."""
    p = Path(path)
    if p.suffix.lower() == ".safetensors":
        raise ModelError(f"{p} holds bare weights without the network's description; open the run's checkpoint "
                         "or an exported .onnx file instead")
    if p.suffix.lower() == ".onnx":
        return OnnxGenerator(p, provider)
    return TorchGenerator(p, provider)  # "cuda" without a GPU says so, as onnxruntime's CUDA provider does
