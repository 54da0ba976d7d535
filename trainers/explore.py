"""What the exploration tools compute from a generator, shared by the studio's panels and the command line:
walks between seeds' faces (latent interpolation), StyleGAN2 style-mixing grids, faces exported as PNG
files that name their seed, model and truncation and never overwrite another model's face (and that record
enough to be made again), and the copy checks: a model's faces against real images, and a dataset's images
against one another."""

from __future__ import annotations

import math
import os
from typing import NamedTuple, Sequence

import numpy as np
from PIL import Image

from trainers.images import captioned_rows, save_png
from trainers.inference import GeneratorModel, ModelError
from trainers.latent import interpolation_path, truncate
from trainers.nets.stylegan2 import style_mixing_grid

# name: (latent space, spherical). slerp suits Gaussian z; w (StyleGAN2) is walked in straight lines.
METHODS = {"slerp in z": ("z", True), "lerp in z": ("z", False), "lerp in w": ("w", False)}
STYLE_GROUPS = ("coarse", "middle", "fine")  # 4-8 px, 16-32 px, 64 px and up


def parse_seeds(text: str) -> list[int]:
    """'1, 7 42' -> [1, 7, 42]; raises ValueError with a readable message."""
    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"seeds are whole numbers separated by commas, not {text!r}") from None


# A seed's face, or a face saved with its latent (found for a picture, or edited): z [z_dim], or for StyleGAN2 the w
# of every layer [w_dim] or each layer's ws [num_ws, w_dim].
Key = int | np.ndarray


def _found_keys(model: GeneratorModel, keys: Sequence[Key]) -> list[np.ndarray]:
    """The latents among keys, checked against the model: ModelError for one another model found."""
    info = model.info
    found = [k for k in keys if isinstance(k, np.ndarray)]
    shapes = [(info.w_dim,), (info.num_ws, info.w_dim)] if info.style_based else [(info.z_dim,)]
    if any(k.shape not in shapes for k in found):
        raise ModelError(f"a face found by another model: its latent does not fit {info.name}")
    return found


def styles_of(model: GeneratorModel, keys: Sequence[Key], truncation: float = 1.0) -> np.ndarray:
    """StyleGAN2 ws [K, num_ws, w_dim] of seeds' faces (mapped in one batch, as Generate draws them) and of faces
    saved with their latent (found for pictures: their w on every layer; edited: their ws), each pulled towards w_avg
    by `truncation`."""
    info = model.info
    found = iter(truncate(k[None] if k.ndim == 2 else np.repeat(k[None, None], info.num_ws, 1), info.w_avg,
                          truncation)[0] for k in _found_keys(model, keys))
    seeds = [int(k) for k in keys if not isinstance(k, np.ndarray)]
    mapped = iter(model.map(model.latents(seeds), truncation) if seeds else [])
    return np.stack([next(found) if isinstance(k, np.ndarray) else next(mapped) for k in keys]).astype(np.float32)


def walk_latents(model: GeneratorModel, keys: Sequence[Key], frames: int, method: str, loop: bool,
                 truncation: float = 1.0) -> tuple[str, np.ndarray]:
    """-> ("z", [frames, z_dim]) or ("w", [frames, num_ws, w_dim]) along the path through the faces: seeds' faces,
    and faces found for pictures (walked in the space they were found in; truncation moves a found w towards
    w_avg as it does a seed's)."""
    space, spherical = METHODS[method]
    info = model.info
    if space == "w" and not info.style_based:
        raise ModelError(f"walking in w needs a StyleGAN2 model; {info.name} is {info.family}")
    found = _found_keys(model, keys)
    if found and space == "z" and info.style_based:
        raise ModelError("StyleGAN2 faces found for pictures have no z: they are walked in w ('lerp in w', or "
                         "--method w)")
    if space == "w":
        return "w", interpolation_path(styles_of(model, keys, truncation), frames, loop=loop)
    z = iter(model.latents([int(k) for k in keys if not isinstance(k, np.ndarray)]))
    found = iter(found)
    path = np.stack([next(found) if isinstance(k, np.ndarray) else next(z) for k in keys]).astype(np.float32)
    return "z", interpolation_path(path, frames, loop=loop, spherical=spherical)


def render_latents(model: GeneratorModel, space: str, latents: np.ndarray, truncation: float = 1.0,
                   batch: int = 32) -> np.ndarray:
    """-> uint8 [T, 3, H, W], in batches."""
    out = []
    for i in range(0, len(latents), batch):
        chunk = latents[i : i + batch]
        if space == "w":
            out.append(model.synthesize(chunk))
        else:
            out.append(model.generate(z=chunk, truncation=truncation))
    return np.concatenate(out)


def mix_grid(model: GeneratorModel, row_seeds: Sequence[Key], column_seeds: Sequence[Key], layers: Sequence[int],
             truncation: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """-> (the figure [H, W, 3] uint8, the mixed faces [R, C, 3, h, w]): rows' `layers` over columns' faces (seeds'
    faces, or faces found for pictures)."""
    if not model.info.style_based:
        raise ModelError(f"style mixing needs a StyleGAN2 model; {model.info.name} is {model.info.family}")
    rows = styles_of(model, row_seeds, truncation)
    cols = styles_of(model, column_seeds, truncation)
    mixed = model.synthesize(model.style_mix(rows, cols, list(layers)))
    mixed = mixed.reshape(len(row_seeds), len(column_seeds), *mixed.shape[1:])
    return style_mixing_grid(model.synthesize(rows), model.synthesize(cols), mixed), mixed


NEAREST_SIZE = 32  # faces are compared averaged down to this many pixels a side
QUERY_BLOCK = 4096  # faces compared with the images at a time
# A face this close to a dataset image is a copy of it. Measured on anime-faces-64 (CPU, 2026-11-28; medians of 64
# training images against the 18,000): the image itself 0.000, with half its contrast 0.004, 20 levels brighter
# 0.057, with +-20 levels of noise 0.094, shifted by 2 pixels 0.61; a held-out real face from its nearest training
# image 0.84, two random faces 1.25. Held-out faces under 0.4 from a training image were the same picture
# (re-encoded, recoloured, retouched), seen by eye; near 0.4 a few blurred or pale pairs are not (docs/QUALITY.md).
COPY_DISTANCE = 0.4
DISTANCE_SCALE = (f"the root-mean-square difference of the pixels, both pictures averaged down to {NEAREST_SIZE} "
                  "pixels a side and brought to the same brightness and contrast; 0 is the same picture")
CONTRAST_FLOOR = 0.02  # standard deviation (0-1) under which an image counts as flat


def _small(images: np.ndarray, size: int, half: bool = False):
    """uint8 [n, 3, R, R] -> float32 [n, 3 * size * size]: each pixel the average of its R/size square, and each
    image brought to mean 0 and standard deviation 1 over its pixels and channels (its brightness and contrast).
    Converted a part at a time, at most 128 MB of full-size float pixels (4,096 faces at 256 px would be 3.2 GB).
    half: float16 instead, each part converted as it is made (half the memory for a whole set)."""
    import torch
    import torch.nn.functional as F

    step = max(1, (128 << 20) // (4 * max(1, images[0].size))) if len(images) else 1
    parts = [torch.zeros(0, 3 * size * size, dtype=torch.float16 if half else torch.float32)]
    for first in range(0, len(images), step):
        x = torch.from_numpy(np.ascontiguousarray(images[first : first + step])).float().div_(255)
        x = (F.adaptive_avg_pool2d(x, size) if x.shape[-1] != size else x).flatten(1)
        x = x - x.mean(1, keepdim=True)
        # Pale, low-contrast images differ by little in plain pixels: on anime-faces-64, 16 of the 94 pairs under
        # 0.05 apart in plain RMS were such images and different pictures. Standardised, they are as far apart as
        # any. The floor (5 levels of 255) keeps a flat image's faint noise from being blown up to full contrast.
        x = x.div_(x.std(1, keepdim=True).clamp_(min=CONTRAST_FLOOR))
        parts.append(x.half() if half else x)
    return torch.cat(parts)


SMALL_IMAGES_BYTES = 256 << 20  # a set averaged down to at most this is averaged once for all blocks of faces


class Nearest(NamedTuple):
    """`nearest_images`' answer, nearest first: for each face, k images of the set."""
    index: np.ndarray  # [N, k] into the images
    distance: np.ndarray  # [N, k]: RMS difference of the standardised pixels (DISTANCE_SCALE)
    mirrored: np.ndarray  # [N, k] bool: the image matches the face mirrored left to right


def nearest_images(faces: np.ndarray, images: np.ndarray, k: int = 5, size: int = NEAREST_SIZE, chunk: int = 2048,
                   cancel=None, progress=None, _averaged=None) -> Nearest:
    """For each face, the k images most like it, as it is or mirrored left to right (training flips its images, so a
    mirrored copy is a copy too): by the root-mean-square difference of their pixels, both averaged down to `size`
    pixels a side so that a copy with a little noise or a shifted detail is still close, and each brought to the same
    brightness and contrast (`_small`). A model that copies its training images makes faces whose nearest image is
    the same picture (a distance near 0; unrelated faces are about 1.25 apart). faces and images:
    uint8 [N, 3, R, R], and the images [M, 3, S, S] (S may differ from R: both are compared at the smaller size, if
    it is under `size`). cancel() is polled and progress(done, total) called between chunks of images. (_averaged:
    the images' `_small` form, when it was made already.)"""
    import torch

    size = min(size, faces.shape[-1], images.shape[-1])
    if len(faces) > QUERY_BLOCK:  # many faces (a whole dataset's, for duplicates): a block at a time, to bound memory
        blocks = range(0, len(faces), QUERY_BLOCK)
        if _averaged is None and len(images) * 3 * size * size * 4 <= SMALL_IMAGES_BYTES:
            _averaged = _small(images, size)  # once, not again for each block
        parts = [nearest_images(faces[first : first + QUERY_BLOCK], images, k, size, chunk, cancel,
                                None if progress is None else
                                lambda done, total, b=b: progress(b * total + done, len(blocks) * total), _averaged)
                 for b, first in enumerate(blocks)]
        return Nearest(*(np.concatenate(column) for column in zip(*parts)))
    k = min(k, len(images))
    chunk = max(1, min(chunk, (128 << 20) // (4 * images[0].size)))  # at most 128 MB of float pixels at a time
    n = len(faces)
    a = _small(faces, size)
    a = torch.cat([a, a.view(n, 3, size, size).flip(-1).flatten(1)])  # the faces, then their mirror images
    a_norm = (a * a).sum(1, keepdim=True)
    best_d = torch.full((2 * n, k), float("inf"))
    best_i = torch.zeros((2 * n, k), dtype=torch.long)
    for start in range(0, len(images), chunk):
        if cancel is not None and cancel():
            raise InterruptedError("cancelled")
        b = (_averaged[start : start + chunk] if _averaged is not None
             else _small(images[start : start + chunk], size))
        d = torch.addmm((b * b).sum(1)[None], a, b.T, alpha=-2).add_(a_norm).clamp_(min=0)  # squared [2N, chunk]
        d, i = d.topk(min(k, len(b)), dim=1, largest=False)  # this chunk's nearest, then with the ones before
        best_d, order = torch.cat([best_d, d], 1).topk(k, dim=1, largest=False)
        best_i = torch.cat([best_i, i + start], 1).gather(1, order)
        if progress is not None:
            progress(start + len(b), len(images))
    # Each face's 2k candidates: k plain, k mirrored. The search's |a|^2 + |b|^2 - 2ab loses digits in float32 (a
    # picture came out up to 0.0013 from itself), which matters only near 0: those few are measured again directly.
    i = torch.cat([best_i[:n], best_i[n:]], 1)  # [n, 2k]
    mirrored = torch.arange(2 * k).expand(n, -1) >= k
    d = torch.cat([best_d[:n], best_d[n:]], 1) / a.shape[1]  # mean squared difference
    near = (d < 0.02**2).nonzero()
    for first in range(0, len(near), chunk):  # (as many images at a time as the search took)
        r, c = near[first : first + chunk].T
        query = a[r + n * mirrored[r, c].long()]  # the face, or its mirror image
        found = i[r, c]
        other = _averaged[found] if _averaged is not None else _small(images[found.numpy()], size)
        d[r, c] = (query - other).pow_(2).mean(1)
    # Then its k nearest, an image once (the nearer of its plain and mirrored matches).
    d, order = d.sort(dim=1, stable=True)
    i, mirrored = i.gather(1, order), mirrored.gather(1, order)
    again = ((i[:, :, None] == i[:, None, :]) & torch.ones(2 * k, 2 * k, dtype=torch.bool).tril(-1)).any(2)
    d, order = d.masked_fill(again, float("inf")).topk(k, dim=1, largest=False)
    return Nearest(i.gather(1, order).numpy(), d.sqrt().numpy(), mirrored.gather(1, order).numpy())


SHORTLIST = 32  # each image's nearest, of which those under `threshold` are its copies
SHORTLIST_SIZE = 8  # pixels a side: a sixteenth of the arithmetic of NEAREST_SIZE
SHORTLIST_MARGIN = 1.25  # pairs under this times `threshold` apart at SHORTLIST_SIZE are measured at NEAREST_SIZE
# A copy cropped or framed a little differently is shifted: on anime-faces-64 (2026-12-08), 2 pixels at 32 px made the
# same picture 0.61 apart. So a pair not under `threshold` as it is is also compared with one image shifted by up to
# SHIFT pixels at NEAREST_SIZE (4 at 64 px) either way, over the other's middle; shifted, any two pictures come a
# little closer (the best of 25 shifts), so such a match needs a stricter line. Seen by eye on that set: under 0.35,
# the 67 pairs it added were the same pictures (re-cropped, and one with glasses drawn on), while between 0.37 and 0.40
# about one in five were two pictures of one character; SHIFT 3 would add 13 more, with more such neighbours.
SHIFT = 2
SHIFTED_LINE = 0.875  # times `threshold`: 0.35 for a copy at 0.4


def _pair_distances(a, b, threshold: float):
    """Standardised pairs (`_small` at size S, as [N, 3, S, S] float32) -> (distance [N], mirrored [N]): the RMS
    difference of a and b, or of a and b mirrored, whichever is smaller; for a pair that is not under `threshold`
    that way, the smallest over b shifted by up to SHIFT pixels (plain or mirrored), compared over a's middle, when
    that is under SHIFTED_LINE * threshold."""
    import torch

    flipped = b.flip(-1)
    both = torch.stack([(a - b).pow(2).mean((1, 2, 3)), (a - flipped).pow(2).mean((1, 2, 3))], 1).sqrt_()
    distance, mirrored = both.min(1)
    far = (distance >= threshold).nonzero()[:, 0]
    size, r = a.shape[-1], SHIFT
    if len(far) and size > 4 * r:
        middle = a[far][:, :, r : size - r, r : size - r]
        best = torch.full((len(far),), float("inf"))
        best_mirrored = torch.zeros(len(far), dtype=torch.long)
        for m, other in enumerate((b[far], flipped[far])):
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    window = other[:, :, r + dy : size - r + dy, r + dx : size - r + dx]
                    d = (middle - window).pow(2).mean((1, 2, 3)).sqrt_()
                    nearer = d < best
                    best = torch.where(nearer, d, best)
                    best_mirrored = torch.where(nearer, m, best_mirrored)
        close = best < SHIFTED_LINE * threshold
        distance[far[close]] = best[close]
        mirrored[far[close]] = best_mirrored[close]
    return distance, mirrored.bool()


def duplicate_pairs(images: np.ndarray, threshold: float = COPY_DISTANCE, cancel=None, progress=None,
                    others: np.ndarray | None = None) -> list[tuple[int, int, float, bool]]:
    """Images of one set that are copies of one another (under `threshold` apart, as `nearest_images` measures:
    re-encoded, recoloured, or mirrored, which a trainer that flips its images sees as the same face; or cropped a
    little differently: shifted by up to SHIFT pixels at NEAREST_SIZE, under a stricter line): each pair once, as
    (earlier index, later index, distance, mirrored), closest first. Up to SHORTLIST - 1 copies of each image are
    found. With `others`, the copies among `others` of each image of `images` instead: (index into images, index
    into others, distance, mirrored), up to SHORTLIST copies of each image.

    Every pair is first compared at SHORTLIST_SIZE pixels a side, and only the pairs found close there are measured
    at NEAREST_SIZE. On anime-faces-64 the copies were at most 1.05 times as far apart at 8 px as at 32 px (0.39 at
    most), while an image's 32 nearest were a median 0.63 to 0.75 away: with a margin of 1.25, one pair in a hundred
    of the shortlists is measured again, and the 353 pairs under 0.4 as they are, are those that measuring every
    pair at 32 px finds, in a fifth of the time (docs/PERFORMANCE.md). At 8 px a shift of a few pixels hardly
    shows, so the shifted copies are in the shortlists too. cancel() is polled and progress(done, total) called as
    it goes."""
    pool = images if others is None else others
    n = len(images)
    if n == 0 or len(pool) == 0:
        return []
    total = 10 * n  # the shortlists are most of the work
    near = nearest_images(images, pool, k=min(SHORTLIST, len(pool)),
                          size=min(SHORTLIST_SIZE, images.shape[-1], pool.shape[-1]), cancel=cancel,
                          progress=None if progress is None else
                          lambda done, of: progress(9 * n * done // max(of, 1), total))
    rows, columns = np.nonzero(near.distance < SHORTLIST_MARGIN * threshold)
    pairs = np.stack([rows, near.index[rows, columns]], 1)
    if others is None:  # (i, j) and (j, i) are one pair, and an image is no copy of itself
        pairs = np.unique(np.sort(pairs, axis=1), axis=0)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    first, second = pairs.reshape(-1, 2).T
    size = min(NEAREST_SIZE, images.shape[-1], pool.shape[-1])
    distance, mirrored = np.empty(len(first), np.float32), np.empty(len(first), bool)
    # Averaged down once, in half precision (6 kB an image at 32 px), unless that is too much memory: then each
    # pair's two images are averaged down as they come (a set of near twins can have millions of close pairs).
    fits = (n + (len(pool) if others is not None else 0)) * 3 * size * size * 2 <= SMALL_IMAGES_BYTES * 2
    fine = _small(images, size, half=True) if fits else None
    fine_pool = fine if others is None or not fits else _small(pool, size, half=True)
    chunk = max(1, (64 << 20) // (4 * (3 * size * size if fits else max(images[0].size, pool[0].size))))
    for start in range(0, len(first), chunk):
        if cancel is not None and cancel():
            raise InterruptedError("cancelled")
        i, j = first[start : start + chunk], second[start : start + chunk]
        a, b = (fine[i].float(), fine_pool[j].float()) if fits else (_small(images[i], size), _small(pool[j], size))
        d, m = _pair_distances(a.view(-1, 3, size, size), b.view(-1, 3, size, size), threshold)
        distance[start : start + chunk], mirrored[start : start + chunk] = d.numpy(), m.numpy()
        if progress is not None:
            progress(9 * n + n * min(len(first), start + chunk) // len(first), total)
    if progress is not None:
        progress(total, total)
    found: dict[tuple[int, int], tuple[float, bool]] = {}
    for i, j, d, m in zip(first.tolist(), second.tolist(), distance.tolist(), mirrored.tolist()):
        if others is None:
            i, j = min(i, j), max(i, j)
        if d < threshold:
            found[i, j] = min((d, m), found.get((i, j), (d, m)))
    return sorted(((i, j, d, m) for (i, j), (d, m) in found.items()), key=lambda pair: (pair[2], pair[0]))


def nearest_sheet(seeds: Sequence[int], faces: np.ndarray, images: np.ndarray, nearest: Nearest) -> np.ndarray:
    """A row per face: the face, then its nearest images (`nearest_images`' answer), captioned with the seed and how
    far they are; an image that matched mirrored is shown mirrored, as it matched. Faces and images of different
    sizes are shown at the larger one. -> [H, W, 3] uint8 (`captioned_rows`)."""
    titles = [f"seed {s}, then its nearest real faces ({d[0]:.3f} to {d[-1]:.3f} away)"
              for s, d in zip(seeds, nearest.distance)]
    rows = []
    for face, index, mirrored in zip(faces, nearest.index, nearest.mirrored):
        found = images[index]
        found[mirrored] = found[mirrored][..., ::-1]
        rows.append([face, *found])
    return captioned_rows(titles, rows)


def face_metadata(model: GeneratorModel, seed: int, truncation: float) -> dict[str, str]:
    """PNG text that is enough to make the same face again (`face_origin` reads it back)."""
    info = model.info
    return {"seed": str(seed), "truncation": f"{truncation:g}", "model": os.path.abspath(info.path),
            "family": info.family, "step": str(info.step), "software": "GAN Studio"}


def grid_metadata(model: GeneratorModel, seeds: Sequence[int], truncation: float) -> dict[str, str]:
    """PNG text of a grid of consecutive seeds' faces: enough to make the same grid again."""
    text = face_metadata(model, seeds[0], truncation)
    del text["seed"]
    return {"seeds": f"{seeds[0]}-{seeds[-1]}", **text}


MAX_GRID_FACES = 100_000  # a saved grid of more faces than this is no grid of ours (it would be gigapixels)


class FaceOrigin(NamedTuple):
    """What made a face, or a grid of faces, that GAN Studio saved: enough to show them again."""
    model: str  # the model file's absolute path when it was saved
    first_seed: int
    count: int  # 1 for a face; a grid holds seeds first_seed to first_seed + count - 1
    truncation: float
    step: int | None  # the model's training step then
    family: str = ""  # the model's family ("" in a record without one)

    @property
    def seeds(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.count))

    def seeds_text(self) -> str:
        """'seed 42', or 'seeds 40-43' for a grid."""
        last = self.first_seed + self.count - 1
        return f"seed {self.first_seed}" if self.count == 1 else f"seeds {self.first_seed}-{last}"


def same_file(a: str, b: str) -> bool:
    """Whether two paths name the same existing file."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def locate_model(face: str | os.PathLike, origin: FaceOrigin) -> str | None:
    """Where the model that made a saved face is now: where it was, else a file of its name beside the face (a
    face sent with its model, or a folder of faces and models moved together); None when neither is there."""
    if os.path.exists(origin.model):
        return origin.model
    beside = os.path.join(os.path.dirname(os.path.abspath(face)), os.path.basename(origin.model))
    return beside if os.path.isfile(beside) else None


def _record(path: str | os.PathLike) -> dict[str, str] | None:
    """The text GAN Studio wrote into an image it saved (PNG text, or a JPEG comment); None for any other file, and
    for one that cannot be read."""
    try:
        # Only what precedes the pixels (image.info), where our text is written: `image.text` would decode the
        # whole picture to look for text after it, and any large image dropped on the window would wait for that.
        with Image.open(path) as image:
            info = dict(image.info)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    comment = info.get("comment")
    if isinstance(comment, bytes):  # a JPEG: "key: value" lines (before 2026-12-07: "key: value; key: value")
        comment = comment.decode("utf-8", "replace")
        text = dict(part.partition(": ")[::2] for part in comment.split("\n" if "\n" in comment else "; "))
    else:
        text = {k: v for k, v in info.items() if isinstance(v, str)}
    return text if text.get("software") == "GAN Studio" and text.get("model") else None


def latent_faces(model: GeneratorModel, space: str, latents: np.ndarray) -> np.ndarray:
    """The faces of latents as saved faces record them: z [N, z_dim]; w [N, w_dim] (the same w on every layer); or
    ws [N, num_ws, w_dim] -> uint8 [N, 3, R, R]."""
    latents = np.asarray(latents, np.float32)
    if space == "w":
        return model.synthesize(np.repeat(latents[:, None], model.info.num_ws, axis=1))
    if space == "ws":
        return model.synthesize(latents)
    return model.generate(z=latents)


def latent_metadata(model: GeneratorModel, space: str, latent: np.ndarray, picture: str = "",
                    distance: float | None = None, edit: str = "") -> dict[str, str]:
    """PNG text of a face saved with the latent that makes it (`found_face` reads it back): its model; the picture it
    was found for, and how far from it; or what edit made it (directions.describe_edit, and the face it started
    from). The latent: z [z_dim], the w of every layer [w_dim], or ws [num_ws, w_dim] ("layers" says how many);
    float32, little-endian, base64."""
    import base64

    info = model.info
    latent = np.asarray(latent, "<f4")
    text = {"model": os.path.abspath(info.path), "family": info.family, "step": str(info.step),
            "found-for": os.path.abspath(picture) if picture else "", "space": space,
            "latent": base64.b64encode(latent.tobytes()).decode("ascii"), "software": "GAN Studio"}
    if space == "ws":
        text["layers"] = str(len(latent))
    if distance is not None:
        text["distance"] = f"{distance:.4f}"
    if edit:
        text["edit"] = edit
    return text


class FoundFace(NamedTuple):
    """A face saved with its latent: one `project` (or the studio's *Find a face like…*) found for a picture, or one
    edited along the model's directions (`edit`, the studio's *Edit face…*). Its record."""
    model: str  # the model file's absolute path when it was saved
    family: str
    step: int | None
    space: str  # "z", "w" (StyleGAN2: the same w on every layer) or "ws" (StyleGAN2: each layer's)
    latent: np.ndarray  # float32 [z_dim], [w_dim] or [num_ws, w_dim]
    picture: str  # the picture it was found for ("" for none)
    edit: str = ""  # how it was edited: "seed 7: direction 1 +1.5" ("" for none)

    def seeds_text(self) -> str:
        """How messages name it, where they name a saved face's seeds."""
        if self.edit:
            return f"an edited face ({self.edit})"
        return f"the face found for {os.path.basename(self.picture)}" if self.picture else "a face found for a picture"


def found_face(path: str | os.PathLike) -> FoundFace | None:
    """The record of a face saved with its latent (`latent_metadata`); None for any other file."""
    import base64
    import binascii

    text = _record(path)
    if text is None or text.get("space") not in ("z", "w", "ws") or "latent" not in text:
        return None
    try:
        latent = np.frombuffer(base64.b64decode(text["latent"], validate=True), "<f4").astype(np.float32)
    except (binascii.Error, ValueError):
        return None
    if not len(latent) or not np.isfinite(latent).all():
        return None
    if text["space"] == "ws":
        layers = int(text["layers"]) if text.get("layers", "").isdigit() else 0
        if not layers or len(latent) % layers:
            return None
        latent = latent.reshape(layers, -1)
    step = int(text["step"]) if text.get("step", "").isdigit() else None
    return FoundFace(text["model"], text.get("family", ""), step, text["space"], latent, text.get("found-for", ""),
                     text.get("edit", ""))


def face_origin(path: str | os.PathLike) -> FaceOrigin | None:
    """The model, seeds and truncation that a face or grid saved by GAN Studio holds (in its PNG text, or its
    JPEG comment); None for any other file, and for one that cannot be read."""
    text = _record(path)
    if text is None:
        return None
    try:
        if "seed" in text:
            first = last = int(text["seed"])
        else:
            first_text, _, last_text = text.get("seeds", "").partition("-")
            first, last = int(first_text), int(last_text)
        truncation = float(text.get("truncation", 1.0))
        step = int(text["step"]) if text.get("step", "").isdigit() else None
    except ValueError:
        return None
    if not 0 <= first <= last or last - first >= MAX_GRID_FACES or not math.isfinite(truncation):
        return None
    return FaceOrigin(text["model"], first, last - first + 1, truncation, step, text.get("family", ""))


def face_filename(model: GeneratorModel, seed: int, truncation: float = 1.0) -> str:
    """FAMILY-MODEL-seedN[-psiP].png; a run's checkpoint is named with its run (dcgan-myrun-step-000001000-...)."""
    psi = "" if truncation == 1 else f"-psi{truncation:.2f}"
    return f"{model.info.stem}-seed{seed:06d}{psi}.png"


def grid_filename(model: GeneratorModel, seeds: Sequence[int], truncation: float = 1.0) -> str:
    """FAMILY-MODEL-seedsA-B[-psiP].png for a grid of consecutive seeds' faces."""
    psi = "" if truncation == 1 else f"-psi{truncation:.2f}"
    return f"{model.info.stem}-seeds{seeds[0]}-{seeds[-1]}{psi}.png"


def holds_face(path: str, text: dict[str, str]) -> bool:
    """Whether the PNG at `path` is the face that `text` describes (same model, step, seed and truncation)."""
    try:
        with Image.open(path) as png:
            return all(png.text.get(key) == value for key, value in text.items())
    except (OSError, ValueError, AttributeError):  # not a PNG of ours
        return False


def free_path(folder: str, name: str, text: dict[str, str]) -> str:
    """`folder/name`, or `folder/stem (2).png` … when that name holds another face: an export never
    overwrites a face from another model or checkpoint (exporting the same face again rewrites it)."""
    stem, suffix = os.path.splitext(name)
    path, n = os.path.join(folder, name), 2
    while os.path.lexists(path) and not holds_face(path, text):
        path, n = os.path.join(folder, f"{stem} ({n}){suffix}"), n + 1
    return path


def export_faces(model: GeneratorModel, faces: np.ndarray, seeds: list[int], truncation: float, folder: str,
                 progress=None) -> list[str]:
    """Write one PNG per face, seed and model in the name and in the PNG text; returns the paths."""
    paths = []
    for i, (face, seed) in enumerate(zip(faces, seeds)):
        if progress is not None and not progress(i, len(seeds)):
            break
        text = face_metadata(model, seed, truncation)
        path = free_path(folder, face_filename(model, seed, truncation), text)
        save_png(path, face.transpose(1, 2, 0), text)
        paths.append(path)
    return paths
