"""Finding the face a model makes that is most like a given picture (GAN inversion, or "projection"): can the model
draw this face? A real face it finds closely is one it has learned; a face it cannot come near shows what it has not
(a model that collapsed to a few faces finds every picture far off).

Two stages. First the faces of `search` seeds are compared with the picture and the closest few kept. Then they are
refined: by gradient descent through the generator when the model is a checkpoint (torch), else by an evolution
strategy that estimates the gradient from the faces of random nudges (the closest start only), which needs only the
generator's output, so an exported `.onnx` model (such as the studio's demo models) can be searched too, more slowly.
For StyleGAN2 the search is in w, one w for every layer, as the mapping network makes them (so the face found stays
one the model could draw from some z, and walks and mixes with seeds' faces in w); the noise stays the fixed noise
the studio draws every face with. The other families search z, kept at the length of a typical z.

The refining minimises the mean squared difference of the pixels at several scales (the full size, then halved down
to 8 px): the coarse scales pull the face's layout and colours into place, the fine ones its details. The
distance reported is the copy checks' (explore.DISTANCE_SCALE: under 0.4 is the same picture; two random faces
are about 1.25 apart), so a found face reads on the same scale as Generate's *Nearest real faces*.

A found face is saved with its latent in its PNG text (explore.latent_metadata; explore.found_face reads it back):
`sample` makes it again; Interpolate and `interpolate` walk through it, and Style mixing and `style-mix` mix its
styles, with other saved faces."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, NamedTuple

import numpy as np

from trainers.images import to_uint8

if TYPE_CHECKING:  # torch is imported when a search runs, not with this module (the CLI's --help reads its defaults)
    from trainers.inference import GeneratorModel

SEARCH = 512  # seeds' faces compared with the picture first
STARTS = 4  # the closest of them, refined side by side through a checkpoint (without gradients: the closest one)
STEPS = 200  # refining steps (gradient steps, or generations of the evolution strategy)
POPULATION = 32  # faces the evolution strategy renders per step (a model without gradients)
NUDGE = 0.1  # the evolution strategy's first nudges, in units of the latents' spread
NUDGE_RATE = 0.1  # its Adam step, same units (demo StyleGAN2, 4 unseen faces: 0.272 at 0.1, 0.286 at 0.05)
# Adam's, in units of the latent's spread. On tiny test models (2026-12-07, 40-100 steps, 3 faces each model could
# make): 0.2 came closest for StyleGAN2 (0.30 from 0.59, against 0.35 at 0.05) and near it for DCGAN (0.3: 0.09,
# 0.1: 0.22, 0.05: 0.31, from 0.51).
LEARNING_RATE = 0.2
SMALLEST_SCALE = 8  # pixels a side: the coarsest scale compared
RENDER_BATCH = 64
PREVIEW_EVERY = 10  # gradient steps between two drawings of the face found so far (for the progress window)

Each = Callable[[int, int, np.ndarray], None]  # each(done, total, the best face so far): a progress bar; may raise


class Found(NamedTuple):
    """`find_face`'s answer."""
    space: str  # "z" [z_dim] or "w" (StyleGAN2: ws [num_ws, w_dim], the same w on every layer)
    latent: np.ndarray
    face: np.ndarray  # uint8 [3, R, R]: the face the latent makes
    distance: float  # from the picture, explore.DISTANCE_SCALE
    seed: int  # the seed whose face was the closest start
    seed_face: np.ndarray  # uint8 [3, R, R]: that seed's face (untruncated)
    seed_distance: float  # its distance from the picture: how much nearer the refining came

    @property
    def key(self) -> np.ndarray:
        """The latent as a walk takes it (explore.Key) and a saved face records it: z, or the one w."""
        return self.latent[0] if self.space == "w" else self.latent


def picture_for(model: GeneratorModel, data: bytes) -> np.ndarray:
    """An image file's bytes -> uint8 [3, R, R] at the model's resolution, cropped and resized as training images
    are. RejectedImage (trainers.images) for a file that is not a usable image."""
    from trainers.images import decode_image

    return decode_image(data, model.info.resolution).pixels


def find_face(model: GeneratorModel, picture: np.ndarray, steps: int = STEPS, search: int = SEARCH,
              starts: int = STARTS, seed: int = 0, each: Each | None = None) -> Found:
    """The latent whose face is most like `picture` (uint8 [3, R, R] at the model's resolution). Deterministic for a
    given seed (the seeds searched are seed .. seed + search - 1). each(done, total, face) is called as the work goes
    (`search` counts as many steps as the refining's first batch of renders; raise in it to stop)."""
    from trainers.inference import ImageSetModel, ModelError, TorchGenerator

    if isinstance(model, ImageSetModel):
        raise ModelError(f"{model.info.name} is a set of images: it has no latent space to search")
    r = model.info.resolution
    if picture.shape != (3, r, r):
        raise ValueError(f"the picture is {picture.shape}; this model's faces are [3, {r}, {r}]")
    searcher = _GradientSearch(model) if isinstance(model, TorchGenerator) else _BlindSearch(model)
    total = math.ceil(search / RENDER_BATCH) + steps
    done = 0

    def tick(face: np.ndarray) -> None:
        nonlocal done
        done += 1
        if each is not None:
            each(done, total, face)

    target = _as_float(picture[None])
    seeds = np.arange(seed, seed + max(search, starts))
    latents, losses = [], []
    for first in range(0, len(seeds), RENDER_BATCH):
        latent = searcher.seed_latents(seeds[first : first + RENDER_BATCH])
        faces = searcher.render(latent)
        losses.append(_mismatch(_as_float(faces), target))
        latents.append(latent)
        tick(faces[losses[-1].argmin()])
    latents, losses = np.concatenate(latents), np.concatenate(losses)
    order = np.argsort(losses, kind="stable")[:starts]
    latent = searcher.refine(latents[order], target, steps, seed, tick)
    face = searcher.render(latent[None])[0]
    # The seed's face as `sample --seeds` draws it: through the model's own mapping of that one seed (its w
    # mapped in a batch of RENDER_BATCH can differ in the last bits, and a pixel by one level)
    seed_face = model.generate([int(seeds[order[0]])])[0]
    return Found(searcher.space, searcher.stored(latent), face, copy_distance(face, picture), int(seeds[order[0]]),
                 seed_face, copy_distance(seed_face, picture))


def copy_distance(face: np.ndarray, picture: np.ndarray) -> float:
    """Two uint8 [3, R, R] pictures' distance on the copy checks' scale (not mirrored)."""
    from trainers.explore import NEAREST_SIZE, _small

    size = min(NEAREST_SIZE, face.shape[-1])
    a, b = _small(face[None], size), _small(picture[None], size)
    return float((a - b).pow(2).mean().sqrt())


def _as_float(images: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(images)).float().div_(127.5).sub_(1.0)


def _mismatch(faces, target):
    """faces [N, 3, R, R] and target [1, 3, R, R] in [-1, 1] (torch) -> [N]: the mean squared difference of their
    pixels at R, R/2, ... down to SMALLEST_SCALE, averaged over the scales. Differentiable."""
    import torch.nn.functional as F

    total, scales = 0.0, 0
    while True:
        total = total + (faces - target).square().mean((1, 2, 3))
        scales += 1
        if faces.shape[-1] // 2 < SMALLEST_SCALE:
            return total / scales
        faces, target = F.avg_pool2d(faces, 2), F.avg_pool2d(target, 2)


class _Search:
    """A model's latent space as the search sees it: latents as float32 rows, standardised (`unit`) so that one step
    size suits every model."""

    def __init__(self, model: GeneratorModel):
        self.model = model
        self.style = model.info.style_based
        self.space = "w" if self.style else "z"
        if self.style:  # w: spread around w_avg as the mapping network spreads it
            w = model.map(model.latents(range(10_000, 10_256)))[:, 0]
            self.center = np.asarray(model.info.w_avg, np.float32)
            self.unit = float(np.sqrt(np.square(w - self.center).mean())) or 1.0
        else:  # z: N(0, I)
            self.center, self.unit = np.zeros(model.info.z_dim, np.float32), 1.0

    def seed_latents(self, seeds) -> np.ndarray:
        z = self.model.latents([int(s) for s in seeds])
        return self.model.map(z)[:, 0] if self.style else z

    def render(self, latents: np.ndarray) -> np.ndarray:
        latents = np.asarray(latents, np.float32)
        faces = [self._render(latents[i : i + RENDER_BATCH]) for i in range(0, len(latents), RENDER_BATCH)]
        return np.concatenate(faces)

    def _render(self, latents: np.ndarray) -> np.ndarray:
        from trainers.explore import latent_faces

        return latent_faces(self.model, self.space, latents)

    def stored(self, latent: np.ndarray) -> np.ndarray:
        latent = np.asarray(latent, np.float32)
        return np.repeat(latent[None], self.model.info.num_ws, axis=0) if self.style else latent

    def typical(self, z):
        """z kept at the length a z of N(0, I) has (about sqrt(z_dim)): the generator never saw other lengths.
        (numpy or torch rows.)"""
        return z * (math.sqrt(z.shape[-1]) / (z * z).sum(-1, keepdims=True) ** 0.5).clip(max=1e6)

    def refine(self, latents: np.ndarray, target, steps: int, seed: int, tick) -> np.ndarray:
        raise NotImplementedError


class _GradientSearch(_Search):
    """Adam on the latents through a checkpoint's generator; learning rate ramped up over the first 5% of the
    steps and down along a cosine over the last 75%, and for w some noise in the first 75% (as StyleGAN2's
    projector does) so that the search does not settle in the first hollow it finds."""

    def refine(self, latents, target, steps, seed, tick):
        import torch

        g, device = self.model.g, self.model.device
        torch_generator = torch.Generator(device="cpu").manual_seed(seed)
        target = target.to(device)
        center = torch.from_numpy(self.center).to(device)
        x = ((torch.from_numpy(latents).to(device) - center) / self.unit).requires_grad_(True)
        optimizer = torch.optim.Adam([x], lr=LEARNING_RATE, betas=(0.9, 0.999))

        def faces(x):
            latent = center + x * self.unit
            if self.style:
                return g.synthesis(latent[:, None].expand(-1, g.num_ws, -1), noise_mode="const")
            return g(self.typical(latent))

        for step in range(steps):
            t = step / max(1, steps)
            for group in optimizer.param_groups:
                group["lr"] = LEARNING_RATE * min(1.0, t / 0.05) * min(1.0, 0.5 - 0.5 * math.cos(math.pi * min(
                    1.0, (1.0 - t) / 0.75)))
            with torch.enable_grad():
                noisy = x
                if self.style:
                    spread = 0.05 * max(0.0, 1.0 - t / 0.75) ** 2
                    noisy = x + torch.randn(x.shape, generator=torch_generator).to(device) * spread
                loss = _mismatch(faces(noisy), target)
                (grad,) = torch.autograd.grad(loss.sum(), [x])  # the generator's own weights get no gradient
            x.grad = grad
            optimizer.step()
            if not self.style:
                with torch.no_grad():
                    x.copy_(self.typical(x))
            if step % PREVIEW_EVERY == 0 or step == steps - 1:  # (a face less to draw on the other steps)
                with torch.no_grad():
                    preview = to_uint8(faces(x[loss.argmin()][None]))[0]
            tick(preview)
        with torch.no_grad():
            final = faces(x)
            best = int(_mismatch(final, target).argmin())
            latent = center + x[best] * self.unit
            return (latent if self.style else self.typical(latent)).cpu().numpy()


class _BlindSearch(_Search):
    """For a model with no gradients (onnxruntime): a natural evolution strategy. Each step draws POPULATION / 2
    random nudges of the latent and their opposites, renders the faces of all of them, and estimates the gradient from
    how much better or worse each pair does; Adam follows that estimate, as it follows the true gradient through a
    checkpoint. The nudges narrow from a tenth of the latents' spread to a fiftieth. On the demo models and a 32 px
    DCGAN's export (2026-12-07, 4 unseen pictures and 4 of its own faces each) it came closer than keeping the best
    of random nudges around the best so far, in as many renders: 0.272 against 0.296 and 0.043 against 0.072 for the
    demo StyleGAN2, 0.515 against 0.552 on held-out anime faces."""

    def refine(self, latents, target, steps, seed, tick):
        rng = np.random.default_rng(seed)
        best = latents[0].copy()  # the closest start (find_face sorts them)
        best_loss = float(_mismatch(_as_float(self.render(best[None])), target)[0])
        mean = (best - self.center).astype(np.float64) / self.unit  # in units of the spread
        first, second = np.zeros_like(mean), np.zeros_like(mean)  # Adam's moments
        half = max(1, POPULATION // 2)
        for step in range(steps):
            t = step / max(1, steps)
            spread = NUDGE * 0.2**t
            rate = NUDGE_RATE * min(1.0, 0.5 - 0.5 * math.cos(math.pi * min(1.0, (1.0 - t) / 0.75)))
            nudges = rng.standard_normal((half, mean.size))
            trial = self.center + np.concatenate([mean + spread * nudges, mean - spread * nudges]) * self.unit
            trial = trial.astype(np.float32)
            if not self.style:
                trial = self.typical(trial)
            faces = self.render(trial)
            losses = _mismatch(_as_float(faces), target).numpy()
            if losses.min() < best_loss:
                best, best_loss = trial[losses.argmin()].copy(), float(losses.min())
            ranked = (losses - losses.mean()) / (losses.std() + 1e-12)
            gradient = ((ranked[:half] - ranked[half:])[:, None] * nudges).sum(0) / (2 * half * spread)
            first = 0.9 * first + 0.1 * gradient
            second = 0.999 * second + 0.001 * gradient**2
            mean -= rate * (first / (1 - 0.9 ** (step + 1))) / (np.sqrt(second / (1 - 0.999 ** (step + 1))) + 1e-8)
            tick(faces[losses.argmin()])
        return best
