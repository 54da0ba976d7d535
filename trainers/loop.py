"""The training loop: `train(config) -> Iterator[Event]`, family-agnostic, with no printing and no UI.

The CLI and the studio are two consumers of the same event stream. Pause and stop requests arrive through
a `TrainControl` and are honoured between steps; a stop writes a checkpoint before the stream ends.
Losses stay on the device and are read back only every `log_every` steps, so the GPU is not stalled
by a host synchronisation on every step.
"""

from __future__ import annotations

import json
import os
import math
import threading
import time
import traceback
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from trainers import events as ev
from trainers.checkpoint import (CheckpointError, atomic_write_bytes, checkpoint_dir, checkpoint_step,
                                 latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint,
                                 sweep_partial_writes)
from trainers.config import ConfigError, TrainConfig
from trainers.data import ImageSet, TensorBatches, load_folder
from trainers.device import describe_device, precision_note, prepare_for_training, resolve_device
from trainers.distributed import Group
from trainers.families import Recipe, build_recipe
from trainers.images import make_grid, save_png, to_uint8
from trainers.latent import z_from_seeds

# Settings that may change when a run is resumed; anything else would make it a different run.
RESUMABLE = frozenset({"steps", "epochs", "minutes", "device", "cuda_graphs", "channels_last", "precision",
                       "data", "out", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints",
                       "score_every", "score_n",
                       "divergence_lr_scale", "max_rollbacks", "collapse_threshold", "collapse_after"})


class TrainControl:
    """Thread-safe pause / resume / stop requests, checked by the loop between steps."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused loop so that it can stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def pause_requested(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self) -> None:
        while not self._running.wait(0.1):
            pass


def resume_config(run_dir: str | Path, more_steps: int | None = None, **overrides) -> TrainConfig:
    """The saved config of the run in `run_dir`, with the run-length and bookkeeping `overrides` applied.

    `steps` is the run's total; `more_steps` counts from the checkpoint instead (the CLI's --resume --steps).
    """
    path = latest_checkpoint(run_dir)
    if path is None:
        raise CheckpointError(f"nothing to resume: {run_dir} holds no checkpoint")
    state = load_checkpoint(path)
    saved = TrainConfig.from_dict(state["config"])
    if more_steps is not None:
        if more_steps < 1:
            raise ConfigError(f"--steps must be positive, not {more_steps}")
        overrides["steps"] = int(state["step"]) + more_steps
    changes = {k: v for k, v in overrides.items() if v is not None}
    conflicts = sorted(k for k, v in changes.items() if k not in RESUMABLE and getattr(saved, k) != v)
    if conflicts:
        raise ConfigError("a resumed run keeps its settings; these differ from the saved run: "
                          + ", ".join(f"{k} ({getattr(saved, k)!r} saved, {changes[k]!r} asked)" for k in conflicts))
    return saved.with_(**{k: v for k, v in changes.items() if k in RESUMABLE}, out=str(run_dir))


def train(config: TrainConfig, *, images: ImageSet | None = None, control: TrainControl | None = None,
          resume: bool = False, group: Group | None = None) -> Iterator[ev.Event]:
    """Train `config`; yields events until the run ends, is stopped, or fails.

    Set-up errors (unusable data: DatasetError; bad settings: ConfigError; an unusable checkpoint:
    CheckpointError) are raised; errors during training end the stream with a `Failed` event.
    With `group` (torchrun), this process trains on its shard and only process 0 writes files; stop
    requests, time limits and divergence are agreed between processes at every logging step.
    """
    config.validate()
    control = control or TrainControl()
    run_dir = Path(config.out)
    device = group.device if group is not None else resolve_device(config.device)
    distributed = group is not None and group.world_size > 1
    main = group is None or group.is_main
    world = group.world_size if group is not None else 1

    state = None
    if resume:
        path = latest_checkpoint(run_dir)
        if path is None:
            raise CheckpointError(f"nothing to resume: {run_dir} holds no checkpoint")
        state = load_checkpoint(path)
        saved = TrainConfig.from_dict(state["config"])
        differing = [k for k in saved.to_dict() if k not in RESUMABLE and getattr(saved, k) != getattr(config, k)]
        if differing:
            raise ConfigError(f"{path} was trained with other settings ({', '.join(differing)}); "
                              "use resume_config() to continue it")

    announce_data = images is None  # a caller that passes images has already shown their report
    if images is None:
        images = load_folder(config.data, config.resolution)
    if images.resolution != config.resolution:
        raise ConfigError(f"images are {images.resolution}px but the run trains at {config.resolution}px")

    pixels, copies = images.images, 0
    if config.holdout:
        if config.holdout >= len(pixels):
            raise ConfigError(f"holdout {config.holdout} leaves no image to train on ({len(pixels)} image"
                              f"{'s' * (len(pixels) != 1)} in all)")
        cut = len(pixels) - config.holdout
        pixels, copies = _without_copies_of(pixels[cut:], pixels[:cut])
        if not len(pixels):
            raise ConfigError(f"holdout {config.holdout} leaves no image to train on: each of the other {cut:,} "
                              "is a copy of a held-out image")
    reference = _score_reference(images.images, config) if main and config.score_every else None
    total_images = len(pixels)
    if distributed:
        if total_images < world:
            raise ConfigError(f"{world} processes need at least {world} training images, one each; there "
                              f"{'is' if total_images == 1 else 'are'} {total_images:,}")
        pixels = pixels[group.rank :: world]  # this process's shard
    prepare_for_training(device)
    torch.manual_seed(config.seed)  # the same initial weights in every process
    recipe = build_recipe(config, device)
    batches = TensorBatches(pixels, device, seed=config.seed + 1 + (group.rank if distributed else 0), flip=config.flip)
    if distributed:
        recipe.grad_sync = group.average_gradients
    data_note = None if batches.on_device else (
        f"The {batches.images.nbytes / 2**30:.1f} GiB of images are more than a third of the GPU's free memory, "
        "so they stay in host memory and each batch is copied to the GPU (slower than keeping them there)")
    graphs_note = None
    if config.cuda_graphs:
        if device.type == "cuda" and not distributed:
            recipe.use_graphs(True)
        else:
            graphs_note = ("CUDA graphs need a single CUDA device; " + ("this run spans several processes"
                           if distributed else f"this run trains on {device.type}") + ", so steps run eagerly")
    step, images_seen, elapsed_before, lr_scale = 0, 0, 0.0, 1.0

    def restore(state: dict) -> None:
        nonlocal step, images_seen, elapsed_before, lr_scale
        recipe.load_state_dict(state)
        batches.load_state_dict(state["data"])
        torch.set_rng_state(state["rng"]["torch"])
        if device.type == "cuda" and state["rng"].get("cuda"):
            # one state per GPU of the machine that saved it: this machine may have fewer
            torch.cuda.set_rng_state_all(state["rng"]["cuda"][: torch.cuda.device_count()])
        step, images_seen = int(state["step"]), int(state["images_seen"])
        elapsed_before = float(state.get("elapsed_s", 0.0))
        lr_scale = float(state.get("lr_scale", 1.0))
        if lr_scale != 1.0:
            recipe.set_learning_rate_scale(lr_scale)

    def reseed_other_processes() -> None:
        if distributed and group.rank > 0:  # other latents and augmentations than process 0's
            torch.manual_seed(config.seed + 7919 * group.rank + step)

    if state is not None:
        restore(state)
    reseed_other_processes()

    log_path = run_dir / "log.jsonl"
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "samples").mkdir(exist_ok=True)
        sweep_partial_writes(run_dir)
        atomic_write_bytes(run_dir / "config.json",
                           lambda f: f.write(json.dumps(config.to_dict(), indent=2).encode()))
        trim_log(run_dir, step)

    total_steps = config.planned_steps
    if config.epochs is not None:
        by_epochs = math.ceil(config.epochs * total_images / (recipe.images_per_step * world))
        total_steps = by_epochs if total_steps is None else min(total_steps, by_epochs)
    if total_steps is not None and step >= total_steps:
        raise ConfigError(f"the run in {run_dir} is already at step {step:,} of {total_steps:,}; ask for more steps "
                          "(on the command line, add --steps N to train N more)")
    deadline_s = config.minutes * 60.0 if config.minutes is not None else None

    yield ev.Started(run_dir=str(run_dir), family=config.model, device=describe_device(device)
                     + (f", process {group.rank + 1} of {world} ({group.backend})" if distributed else ""),
                     num_images=total_images, step=step, total_steps=total_steps)
    copies_note = copies and (f"left out {_count(copies, 'training image')} that "
                              f"{'is a copy' if copies == 1 else 'are copies'} of held-out images, so that those stay "
                              "faces the model never saw")
    for note in (copies_note, data_note, graphs_note, precision_note(device, config.precision)):
        if note:
            yield ev.Notice(note)
    report = images.report
    if announce_data and report.upscaled:
        yield ev.Notice(f"{_count(len(report.upscaled), 'image')} smaller than {config.resolution}px upscaled")
    if announce_data and report.rejected:
        yield ev.Notice(f"{report.num_rejected:,} files were skipped: "
                        + ", ".join(f"{len(v)} {k}" for k, v in report.rejected.items()))

    fixed_z = z_from_seeds(range(config.grid_size**2), config.z_dim)
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    session_s = 0.0  # training time in this session, pauses excluded
    mark_t, mark_step, mark_images = time.perf_counter(), step, images_seen
    rate: float | None = None
    stopped = False
    last_checkpoint: str | None = None
    pending_checkpoint = False  # a checkpoint write failed (disk full...): retried before training goes on
    plan_done = False
    rollbacks = 0
    real_spread = _spread(images.images[:: max(1, len(images.images) // 64)][:64])
    # (SWD, step) of the best-scoring checkpoint so far: kept even once it is older than the newest --keep
    faces_per_score = min(config.score_n, len(_score_pool(images.images, config)))
    best = _best_scored(run_dir, faces_per_score) if main else None
    scored_now: tuple[float, int] | None = None  # this step's score, until its checkpoint is written

    def checkpoint() -> ev.Checkpointed:
        nonlocal best
        if scored_now is not None and scored_now[1] == step and (best is None or scored_now < best):
            best = scored_now
        rng = {"torch": torch.get_rng_state()}
        if device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state_all()
        payload = {"family": config.model, "config": config.to_dict(), "step": step, "images_seen": images_seen,
                   "elapsed_s": elapsed_before + session_s, "rng": rng, "data": batches.state_dict(),
                   "lr_scale": lr_scale, **recipe.state_dict()}
        path = save_checkpoint(run_dir, payload, step, keep=config.keep_checkpoints,
                               also_keep=[best[1]] if best else [])
        return ev.Checkpointed(step=step, images_seen=images_seen, path=str(path))

    def try_checkpoint():
        """Yield the Checkpointed event; when the write fails, say so and pause (nothing is lost). A run of several
        processes cannot pause for it (the others would wait for this one at the next step): it stops, agreed at the
        next logging step, and the write is tried once more as it ends."""
        nonlocal last_checkpoint, pending_checkpoint, stopped
        if not main:
            return
        try:
            ck = checkpoint()
        except OSError as exc:
            if distributed:
                stopped = True
                control.stop()
                yield ev.Notice(f"could not write the checkpoint for step {step:,}: {exc.strerror or exc}. A run of "
                                "several processes cannot pause for it: it stops at the next logging step and tries "
                                "once more to write it; the earlier checkpoints are intact. Free some space and "
                                "continue it with --resume.")
                return
            pending_checkpoint = True
            control.pause()
            yield ev.Notice(f"could not write the checkpoint for step {step:,}: {exc.strerror or exc}. Training is "
                            "paused and the earlier checkpoints are intact; free some space and resume (the "
                            "checkpoint is written first).")
            return
        pending_checkpoint = False
        last_checkpoint = ck.path
        yield ck

    def roll_back(bad: list[str]):
        """Yield what happened; return False when there is nothing to roll back to."""
        nonlocal rollbacks, lr_scale, sums, counts, mark_t, mark_step, mark_images
        rollbacks += 1
        path = latest_checkpoint(run_dir)
        what = f"training diverged at step {step:,}: {', '.join(bad)} became NaN or infinite"
        if path is None or rollbacks > config.max_rollbacks:
            why = "no checkpoint to go back to" if path is None else f"{config.max_rollbacks} rollbacks did not help"
            yield ev.Failed(f"{what}; {why}. Try a lower learning rate.", step=step)
            return False
        saved = load_checkpoint(path)
        before = lr_scale
        restore(saved)
        reseed_other_processes()
        lr_scale = min(before, lr_scale) * config.divergence_lr_scale
        recipe.set_learning_rate_scale(lr_scale)
        if main:
            trim_log(run_dir, step)
        sums, counts = {}, {}
        mark_t, mark_step, mark_images = time.perf_counter(), step, images_seen
        yield ev.Notice(f"{what}; rolled back to step {step:,} ({path.name}) with learning rates x{lr_scale:g}")
        return True

    stop_agreed = False
    try:
        while True:
            if stop_agreed if distributed else control.stop_requested:
                stopped = True
                break
            if control.pause_requested and not distributed:
                session_s += time.perf_counter() - mark_t
                yield ev.Paused(step=step)
                control.wait_while_paused()
                mark_t, mark_step, mark_images = time.perf_counter(), step, images_seen
                if control.stop_requested:
                    stopped = True
                    break
                yield ev.Resumed(step=step)
            if pending_checkpoint:
                yield from try_checkpoint()
                if pending_checkpoint:
                    continue
                if plan_done:
                    break

            try:
                stats = recipe.step(batches, step)
            except torch.OutOfMemoryError:
                if recipe.accumulation >= config.batch:
                    raise
                for opt in recipe.optimizers.values():
                    opt.zero_grad(set_to_none=True)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                recipe.accumulation *= 2
                chunk = -(-config.batch // recipe.accumulation)
                yield ev.Notice(f"out of memory at step {step + 1:,}: the step is retried in {recipe.accumulation} "
                                f"chunks of {chunk} images whose gradients add up, so the batch stays {config.batch}")
                continue
            while recipe.notices:
                yield ev.Notice(recipe.notices.pop(0))
            step += 1
            images_seen += recipe.images_per_step * world
            for name, value in stats.items():  # lazy regularisers report only on the steps they run
                value = value.detach()
                sums[name] = sums[name] + value if name in sums else value.clone()
                counts[name] = counts.get(name, 0) + 1

            now = time.perf_counter()
            running_s = session_s + (now - mark_t)
            steps_done = total_steps is not None and step >= total_steps
            deadline_hit = deadline_s is not None and running_s >= deadline_s
            if distributed:  # every process must take the same branches: agree at logging steps only
                if step % config.log_every == 0 or steps_done:
                    stop_agreed, deadline_hit = group.any(control.stop_requested, deadline_hit)
                else:
                    deadline_hit = False
            done = steps_done or deadline_hit

            if step % config.log_every == 0 or done:
                values = {name: float(v) / counts[name] for name, v in sums.items()}  # one host sync per interval
                now = time.perf_counter()
                interval = now - mark_t
                img_rate = (images_seen - mark_images) / interval if interval > 0 else 0.0
                step_rate = (step - mark_step) / interval if interval > 0 else 0.0
                rate = step_rate if rate is None else 0.7 * rate + 0.3 * step_rate
                session_s += interval
                mark_t, mark_step, mark_images = now, step, images_seen
                eta = time_left(total_steps, step, rate, deadline_s, session_s)
                values["Speed/img_per_s"] = img_rate
                bad = [name for name, v in values.items() if not math.isfinite(v)]
                progress = ev.Progress(step=step, images_seen=images_seen, stats=values, img_per_s=img_rate,
                                       elapsed_s=elapsed_before + session_s, eta_s=eta)
                sums, counts = {}, {}
                if not bad and not recipe.weights_finite():
                    bad = ["the weights"]
                if distributed and group.any(bool(bad))[0] and not bad:
                    bad = ["another process's losses"]
                if bad:
                    if (yield from roll_back(bad)):
                        continue
                    return
                if main:
                    _append_log(log_path, progress)
                yield progress

            if main and (step % config.sample_every == 0 or done):
                faces = _faces(recipe, fixed_z)
                yield _snapshot(faces, recipe, config, run_dir, step, images_seen)
                spread = _spread(faces[:64])  # the snapshot's own faces (they were made twice before)
                if (images_seen >= config.collapse_after and real_spread > 0
                        and spread < config.collapse_threshold * real_spread):
                    yield ev.Notice(f"possible mode collapse at step {step:,}: the snapshot faces vary "
                                    f"{spread / real_spread:.0%} as much as real faces do")
            if reference is not None and (step % config.score_every == 0 or done):
                yield ev.Scoring(step=step, n=len(reference))
                scoring_started = time.perf_counter()
                scored = _score(recipe, reference, config, step, images_seen, lambda: control.stop_requested)
                # scoring is not training: it counts neither in img/s nor in --minutes
                mark_t += time.perf_counter() - scoring_started
                if scored is not None:  # (None: a stop came while the faces were made; the run ends unscored)
                    _append_row(log_path, step, images_seen, elapsed_before + session_s,
                                {**{f"Score/{k}": v for k, v in scored.scores.items()}, "score_n": scored.n})
                    scored_now = (scored.scores["SWD"], step)
                    yield scored
            if step % config.checkpoint_every == 0 or done:
                if not recipe.weights_finite():  # never save weights that have already gone bad
                    if (yield from roll_back(["the weights"])):
                        continue
                    return
                yield from try_checkpoint()
            if done:
                plan_done = True
                if not pending_checkpoint:
                    break
    except Exception as exc:  # a failure mid-run ends the stream with what went wrong
        yield ev.Failed(f"training failed at step {step:,}: {type(exc).__name__}: {exc}", step=step,
                        details=traceback.format_exc())
        return

    if stopped:
        session_s += time.perf_counter() - mark_t
    if main and stopped and step > 0 and (last_checkpoint is None or not last_checkpoint.endswith(f"{step:09d}.pt")):
        if counts:  # losses of the last partial interval
            values = {name: float(v) / counts[name] for name, v in sums.items()}
            _append_log(log_path, ev.Progress(step=step, images_seen=images_seen, stats=values, img_per_s=0.0,
                                              elapsed_s=elapsed_before + session_s, eta_s=None))
        yield _snapshot(_faces(recipe, fixed_z), recipe, config, run_dir, step, images_seen)
        try:
            ck = checkpoint()
            last_checkpoint = ck.path
            yield ck
        except OSError as exc:
            yield ev.Failed(f"stopped at step {step:,}, but its checkpoint could not be written "
                            f"({exc.strerror or exc}); {last_checkpoint or 'no earlier checkpoint'} is intact",
                            step=step)
            return
    best_path = checkpoint_dir(run_dir) / f"step-{best[1]:09d}.pt" if best else None
    yield ev.Finished(step=step, images_seen=images_seen, elapsed_s=elapsed_before + session_s, stopped=stopped,
                      checkpoint=last_checkpoint, best_checkpoint=str(best_path) if best_path else None,
                      best_swd=best[0] if best else None)


def _without_copies_of(held: np.ndarray, training: np.ndarray) -> tuple[np.ndarray, int]:
    """The training images, less those that are copies of a held-out image (re-encoded, recoloured or mirrored:
    `explore.duplicate_pairs`), so that the held-out images are faces the model never saw; and how many were left
    out. (anime-faces-64 has 85 such among the 18,000 before its last 2,000 files: copies of 80 of those.)"""
    from trainers.explore import duplicate_pairs

    copies = sorted({j for _, j, _, _ in duplicate_pairs(held, others=training)})
    return (np.delete(training, copies, axis=0) if copies else training), len(copies)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def time_left(total_steps: int | None, step: int, rate: float | None, deadline_s: float | None,
              running_s: float) -> float | None:
    """Seconds until the run ends: its steps at `rate` steps per second, or its time limit, whichever is first."""
    candidates = []
    if total_steps is not None and rate:
        candidates.append(max(0.0, (total_steps - step) / rate))
    if deadline_s is not None:
        candidates.append(max(0.0, deadline_s - running_s))
    return min(candidates) if candidates else None


def _faces(recipe: Recipe, z: torch.Tensor, stop=lambda: False) -> np.ndarray | None:
    """Faces for z, 64 at a time; None when `stop()` says so between two batches."""
    parts = []
    for chunk in z.split(64):
        if stop():
            return None
        parts.append(to_uint8(recipe.generate(chunk)))
    return np.concatenate(parts)


def _spread(faces: np.ndarray) -> float:
    """Mean pairwise distance between faces (at 16x16): how varied a set is, for the collapse warning."""
    if len(faces) < 2:
        return 0.0
    x = torch.from_numpy(np.ascontiguousarray(faces)).float()
    x = torch.nn.functional.adaptive_avg_pool2d(x, 16).flatten(1) / 255.0
    d = torch.cdist(x, x)
    n = len(x)
    return float(d.sum() / (n * (n - 1)))


def _snapshot(faces: np.ndarray, recipe: Recipe, config: TrainConfig, run_dir: Path, step: int,
              images_seen: int) -> ev.Samples:
    grid = make_grid(faces, columns=config.grid_size)
    path = run_dir / "samples" / f"step-{step:09d}.png"
    save_png(path, grid, {"step": str(step), "model": config.model})
    extras = recipe.snapshot_extras()
    for name, image in extras.items():
        save_png(run_dir / "samples" / f"{name}-step-{step:09d}.png", image, {"step": str(step), "model": config.model})
    return ev.Samples(step=step, images_seen=images_seen, grid=grid, path=str(path), extras=extras)


def scored_against(config: TrainConfig) -> str:
    """Which real faces a run's scores are against: "held-out" (its --holdout images) or "training" (all)."""
    return "held-out" if config.holdout else "training"


def _score_pool(all_images: np.ndarray, config: TrainConfig) -> np.ndarray:
    """The images a run's scores draw their real faces from: the held-out ones when it has some, else all."""
    return all_images[len(all_images) - config.holdout :] if config.holdout else all_images


def _score_reference(all_images: np.ndarray, config: TrainConfig) -> np.ndarray:
    """The real faces a run is scored against while it trains, drawn from its pool as `eval` draws them (seed 0),
    so that the score at step N is what `eval` gives that step's checkpoint with `--n score_n` (and
    `--real-last holdout`)."""
    pool = _score_pool(all_images, config)
    if len(pool) < 2:
        raise ConfigError("scoring while training needs at least two " + ("held-out images (--holdout)"
                                                                          if config.holdout else "images"))
    pick = np.random.default_rng(0).permutation(len(pool))[: config.score_n]
    return pool[np.sort(pick)]


def _best_scored(run_dir: Path, faces: int) -> tuple[float, int] | None:
    """(SWD, step) of the best-scoring checkpoint a run folder holds (by its log's scores of that many faces:
    figures from other numbers of faces do not compare), or None."""
    steps = {checkpoint_step(p) for p in list_checkpoints(run_dir)}
    scored = [(row["Score/SWD"], row["step"]) for row in read_log(run_dir) if "Score/SWD" in row
              and row["step"] in steps and row.get("score_n") == faces]
    return min(scored) if scored else None


def _score(recipe: Recipe, reference: np.ndarray, config: TrainConfig, step: int, images_seen: int,
           stop) -> ev.Scored | None:
    """SWD of faces from seeds 0..n-1 (the sampling generator: StyleGAN2's EMA) against the reference faces;
    None when `stop()` asks for the run to end while the faces are made (half a minute for StyleGAN2 on a CPU)
    or while their distance is computed (seconds)."""
    from trainers.metrics import swd

    class Stopped(Exception):
        pass

    def check(done: int, total: int) -> None:
        if stop():
            raise Stopped()

    started = time.perf_counter()
    faces = _faces(recipe, z_from_seeds(range(len(reference)), config.z_dim), stop)
    if faces is None:
        return None
    try:
        scores = swd(reference, faces, seed=0, progress=check)
    except Stopped:
        return None
    return ev.Scored(step=step, images_seen=images_seen, scores=scores, n=len(reference),
                     reference=scored_against(config),
                     seconds=time.perf_counter() - started)


def _append_log(path: Path, progress: ev.Progress) -> None:
    _append_row(path, progress.step, progress.images_seen, progress.elapsed_s, progress.stats)


def _append_row(path: Path, step: int, images_seen: int, elapsed_s: float, stats: dict[str, float]) -> None:
    """One line of log.jsonl: step, images seen, training seconds and name-addressed figures ("Loss/D",
    "Score/SWD", ...)."""
    line = {"step": step, "images_seen": images_seen, "elapsed_s": round(elapsed_s, 3), **stats}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


def read_log(run_dir: str | os.PathLike, up_to_step: int | None = None) -> list[dict]:
    """A run's progress lines (log.jsonl), oldest first, as dicts: step, images_seen, elapsed_s and the
    name-addressed statistics. Lines past `up_to_step` are left out, and so is a line cut short by a crash."""
    path = Path(run_dir) / "log.jsonl"
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return rows
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int) and (up_to_step is None or row["step"] <= up_to_step):
            rows.append(row)
    return rows


class LogFollower:
    """The lines that another process appends to a run's log.jsonl, each read once (the studio follows a
    torchrun run this way): only what was added since the last call is read, and a line still being written
    waits for the next call. When the log was rewritten shorter (a rollback keeps it up to a checkpoint), the
    lines after the part it kept are new, even where they repeat steps."""

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / "log.jsonl"
        self.offset = 0
        self.seen: list[tuple[int, int]] = []  # (length, checksum) of each line read, to tell a rewritten log

    def new_rows(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                if self.seen and not self._still_there(f):
                    f.seek(0)
                    kept, self.offset = 0, 0
                    for line in f.read().splitlines(keepends=True):
                        if kept == len(self.seen) or (len(line), zlib.crc32(line)) != self.seen[kept]:
                            break
                        kept += 1
                        self.offset += len(line)
                    del self.seen[kept:]
                f.seek(self.offset)
                lines = f.read().splitlines(keepends=True)
        except FileNotFoundError:
            return []
        if lines and not lines[-1].endswith(b"\n"):
            lines.pop()  # still being written: the next call reads it
        rows = []
        for line in lines:
            self.offset += len(line)
            self.seen.append((len(line), zlib.crc32(line)))
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if isinstance(row, dict) and isinstance(row.get("step"), int):
                rows.append(row)
        return rows

    def _still_there(self, f) -> bool:
        """Whether the last line read is where it was (else the log was rewritten)."""
        length, checksum = self.seen[-1]
        f.seek(self.offset - length)
        return zlib.crc32(f.read(length)) == checksum


def trim_log(run_dir: str | os.PathLike, step: int) -> None:
    """Drop log lines past `step` (written after the checkpoint a run resumes from)."""
    path = Path(run_dir) / "log.jsonl"
    if path.exists():
        kept = read_log(run_dir, up_to_step=step)
        atomic_write_bytes(path, lambda f: f.write("".join(json.dumps(row) + "\n" for row in kept).encode()))
