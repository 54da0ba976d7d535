"""How long *Edit face…* and `edit` (trainers/directions.py) take, and how much they change faces: the seconds to
find a model's directions (once per model and session in the studio), the milliseconds to draw one edited face (each
move of a slider), and how much more 16 faces change along the first two directions than along 8 random directions
moved as far in the latent space (RMS of the faces' pixels at 16 px, 0-1; for a trained model).

    python bench/edit_directions.py [MODEL ...] [--repeats 20] [--no-fresh]

Default: the demo models, and the sample DCGAN and StyleGAN2 `small` at 64x64, freshly initialised and exported to
ONNX (the time does not depend on training; their changes mean nothing)."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainers import directions as dirs  # noqa: E402
from trainers.explore import latent_faces  # noqa: E402
from trainers.inference import open_model  # noqa: E402

import numpy as np  # noqa: E402


def change(model, found: dirs.Directions, vector: np.ndarray, starts: list[np.ndarray]) -> float:
    """Mean RMS change of the faces' 16 px pixels from -1 to +1 along `vector`, moved by the first direction's
    spread."""
    one = dirs.Directions(found.space, vector[None].astype(np.float32), found.spread[:1], found.share[:1])
    space = "ws" if model.info.style_based else "z"
    out = []
    for start in starts:
        faces = latent_faces(model, space, np.stack([dirs.edited(one, start, [a]) for a in (-1.0, 1.0)]))
        out.append(np.sqrt(np.square(np.diff(dirs.pixel_features(faces), axis=0)).mean()))
    return float(np.mean(out))


def fresh_models(folder: Path) -> list[Path]:
    import torch

    from trainers.config import TrainConfig
    from trainers.export import export_generator
    from trainers.families import build_recipe

    paths = []
    for family in ("dcgan", "stylegan2"):
        torch.manual_seed(0)
        recipe = build_recipe(TrainConfig.for_family(family, device="cpu"), "cpu")
        paths.append(folder / f"{family}-64px-fresh.onnx")
        export_generator(recipe, paths[-1], log=lambda m: None)
    return paths


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", metavar="MODEL")
    p.add_argument("--repeats", type=int, default=20, help="edited faces drawn to time one (default 20)")
    p.add_argument("--no-fresh", action="store_true", help="leave out the freshly initialised 64x64 models")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        models = [Path(m) for m in args.models] or [ROOT / "resources" / "demo" / f for f in
                                                     ("dcgan-tutorial.onnx", "stylegan2.onnx")]
        if not args.no_fresh and not args.models:
            models += fresh_models(Path(tmp))
        print(f"{'model':32s} {'family':>14s} {'px':>4s} {'directions s':>12s} {'first share':>11s} "
              f"{'edit ms':>8s} {'change 1, 2':>12s} {'random':>7s}")
        for path in models:
            model = open_model(path, provider=args.device)
            start = time.perf_counter()
            found = dirs.principal_directions(model)
            seconds = time.perf_counter() - start
            latent = dirs.base_latent(model, 7)
            space = "ws" if model.info.style_based else "z"
            times = []
            for i in range(args.repeats):
                start = time.perf_counter()
                edited = dirs.edited(found, latent, {i % dirs.COUNT: 1.5})
                latent_faces(model, space, edited[None])
                times.append(time.perf_counter() - start)
            info = model.info
            starts = [dirs.base_latent(model, seed) for seed in range(5_000, 5_016)]
            first = [change(model, found, found.vectors[k], starts) for k in range(2)]
            rng = np.random.default_rng(0)
            random = [change(model, found, v / np.linalg.norm(v), starts)
                      for v in rng.standard_normal((8, found.vectors.shape[1]))]
            print(f"{path.name[-32:]:32s} {info.family:>14s} {info.resolution:>4d} {seconds:>12.2f} "
                  f"{found.share[0]:>11.0%} {statistics.median(times) * 1e3:>8.1f} "
                  f"{first[0]:>5.3f} {first[1]:>5.3f} {np.mean(random):>7.3f}", flush=True)


if __name__ == "__main__":
    main()
