"""The directions in a model's latent space along which its faces change the most, and faces edited along them:
GANSpace (Härkönen et al., 2020), unsupervised: the model is asked what varies most among its faces (hair colour,
skin tone, pose, hair length, ...), and the answer is given as sliders, not names.

StyleGAN2: the principal components of w, over the ws its mapping network makes from many seeds (the paper's own
method); an edit can move only some layers (coarse, middle, fine), so that, say, a pose changes and the colours stay.
The other families have no w: the principal components are those of their faces' pixels (averaged down to
FEATURE_SIZE px), and each is carried back into z by least squares, as the paper does for BigGAN (there on a layer's
features; here on the faces, so an exported `.onnx` model, which shows only its faces, works too).

Amounts are in standard deviations of the model's own latents along each direction: 0 is the face itself, +-1 a
typical difference, +-3 far off (faces begin to break up). An edited face is saved with its latent, as a face found
for a picture is (explore.latent_metadata), so `sample` makes it again, and walks and style-mixing grids take it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, NamedTuple, Sequence

import numpy as np

if TYPE_CHECKING:
    from trainers.explore import Key
    from trainers.inference import GeneratorModel

COUNT = 8  # directions offered
STYLE_SAMPLES = 10_000  # StyleGAN2: ws mapped (cheap: the mapping network only)
FACE_SAMPLES = 1_024  # the other families: faces drawn
FEATURE_SIZE = 16  # pixels a side their faces are compared at (3 x 16 x 16 numbers a face)
FIRST_SEED = 0  # the seeds sampled are FIRST_SEED onwards: a model's directions are always the same
BATCH = 64  # faces (or ws) computed at a time
AMOUNTS = (-2.0, -1.0, 0.0, 1.0, 2.0)  # a sheet's columns
LIMIT = 5.0  # the largest amount accepted: beyond it no face is left

Each = Callable[[int, int], None]  # each(done, total): a progress bar; may raise to stop


class Directions(NamedTuple):
    """A model's principal directions, most important first."""
    space: str  # "z", or "w" (StyleGAN2)
    vectors: np.ndarray  # float32 [K, dim], unit length
    spread: np.ndarray  # float32 [K]: the standard deviation of the model's latents along each (amount 1)
    share: np.ndarray  # float32 [K]: the fraction of all variation (of w; of the faces' pixels) each accounts for

    def describe(self, k: int) -> str:
        """'direction 3 (9% of the variation)'; k counts from 0."""
        return f"direction {k + 1} ({self.share[k]:.0%} of the variation)"


def principal_directions(model: GeneratorModel, count: int = COUNT, each: Each | None = None) -> Directions:
    """The `count` directions along which the model's faces vary most (see the module's docstring). Deterministic for
    a model. each(done, total) is called as the work goes."""
    from trainers.inference import ImageSetModel, ModelError

    info = model.info
    if isinstance(model, ImageSetModel):
        raise ModelError(f"{info.name} is a set of images: it has no latent space to edit in")
    samples = STYLE_SAMPLES if info.style_based else FACE_SAMPLES
    z = model.latents(range(FIRST_SEED, FIRST_SEED + samples))
    parts = []
    for first in range(0, samples, BATCH):
        chunk = z[first : first + BATCH]
        parts.append(model.map(chunk)[:, 0] if info.style_based else pixel_features(model.generate(z=chunk)))
        if each is not None:
            each(first + len(chunk), samples)
    features = np.concatenate(parts).astype(np.float64)
    centred = features - features.mean(0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    count = min(count, len(singular))
    share = singular[:count] ** 2 / max(float((singular**2).sum()), 1e-30)
    components = components[:count] * np.sign(components[:count, [0]] + 1e-30)  # a sign fixed by the first entry
    if info.style_based:
        vectors, latents = components, features
    else:  # each face direction carried back into z: the z direction that best predicts moving along it
        coords = centred @ components.T
        coords /= coords.std(0).clip(min=1e-12)
        solution, *_ = np.linalg.lstsq(coords, z.astype(np.float64), rcond=None)  # [count, z_dim]
        vectors, latents = solution, z.astype(np.float64)
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    spread = (latents @ vectors.T).std(0)
    return Directions("w" if info.style_based else "z", vectors.astype(np.float32), spread.astype(np.float32),
                      share.astype(np.float32))


def pixel_features(faces: np.ndarray) -> np.ndarray:
    """uint8 [N, 3, R, R] -> float32 [N, 3 * FEATURE_SIZE**2]: the faces' pixels (0-1) averaged down."""
    n, c, r, _ = faces.shape
    size = min(FEATURE_SIZE, r)
    x = faces.astype(np.float32).reshape(n, c, size, r // size, size, r // size).mean((3, 5))
    return x.reshape(n, -1) / 255.0


def base_latent(model: GeneratorModel, key: Key, truncation: float = 1.0) -> np.ndarray:
    """The latent an edit starts from: z [z_dim] (a seed's, or a face's found for a picture), or for StyleGAN2 its
    ws [num_ws, w_dim] at `truncation`."""
    from trainers.explore import _found_keys, styles_of

    if model.info.style_based:
        return styles_of(model, [key], truncation)[0]
    if isinstance(key, np.ndarray):
        return _found_keys(model, [key])[0].astype(np.float32)
    return model.latents([int(key)])[0]


def edited(directions: Directions, latent: np.ndarray, amounts: Sequence[float] | dict[int, float],
           layers: Sequence[int] | None = None) -> np.ndarray:
    """`latent` (base_latent's) moved by amounts[k] standard deviations along direction k (a list, one per direction
    from the first, or {k: amount}); for StyleGAN2 only on ws `layers` (all when None). ValueError for an amount
    past +-LIMIT or a direction that is not there."""
    items = amounts.items() if isinstance(amounts, dict) else enumerate(amounts)
    shift = np.zeros(directions.vectors.shape[1], np.float64)
    for k, amount in items:
        if not 0 <= k < len(directions.vectors):
            raise ValueError(f"direction {k + 1}: this model offers directions 1 to {len(directions.vectors)}")
        if not abs(amount) <= LIMIT:
            raise ValueError(f"direction {k + 1}: amounts go from -{LIMIT:g} to {LIMIT:g}, not {amount:g}")
        shift += amount * float(directions.spread[k]) * directions.vectors[k]
    out = np.array(latent, np.float32)
    if out.ndim == 2:  # ws [num_ws, w_dim]
        out[list(range(len(out))) if layers is None else list(layers)] += shift.astype(np.float32)
    else:
        out += shift.astype(np.float32)
    return out


def edit_sheet(model: GeneratorModel, directions: Directions, latent: np.ndarray, which: Sequence[int],
               amounts: Sequence[float] = AMOUNTS,
               layers: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A row per direction in `which`, captioned with its share of the variation, a column per amount: (the sheet
    [H, W, 3] uint8, the faces [len(which), len(amounts), 3, R, R])."""
    from trainers.explore import latent_faces
    from trainers.images import captioned_rows

    space = "ws" if model.info.style_based else "z"
    latents = np.stack([edited(directions, latent, {k: a}, layers) for k in which for a in amounts])
    r = model.info.resolution
    faces = latent_faces(model, space, latents).reshape(len(which), len(amounts), 3, r, r)
    titles = [f"direction {k + 1} ({directions.share[k]:.0%})" for k in which]  # (narrow: 5 faces of 32 px)
    return captioned_rows(titles, list(faces)), faces


def describe_edit(amounts: dict[int, float], layers_name: str = "", start: str = "", earlier: str = "") -> str:
    """What a saved edited face records: 'seed 7: direction 1 +1.5, direction 3 -2 (coarse styles)', from the face
    `start` names; or, for a face edited before (`earlier`, its record), 'EARLIER, then direction 2 +1'. (No '; ',
    which a JPEG's record uses between its fields.)"""
    moves = ", ".join(f"direction {k + 1} {a:+g}" for k, a in sorted(amounts.items()) if a) or "unchanged"
    moves += f" ({layers_name} styles)" if layers_name and amounts and any(amounts.values()) else ""
    return f"{earlier}, then {moves}" if earlier else f"{start}: {moves}" if start else moves
