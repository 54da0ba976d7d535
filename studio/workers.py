"""Background work for the studio: folder scans, training runs and face rendering, off the GUI thread.

Each worker runs in a Python thread (torch and PIL release the GIL while they compute) and reports
through Qt signals, which Qt delivers on the GUI thread. What crosses over is plain data: numpy uint8
arrays, floats, the engine's frozen event dataclasses. No torch tensor reaches the GUI.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from trainers.checkpoint import CheckpointError
from trainers.config import ConfigError
from trainers.data import DatasetError, ImageSet, ScanCancelled, load_folder
from trainers.loop import TrainControl, train


class BackgroundJob(QObject):
    """A QObject whose work runs in one daemon thread; subclasses implement `_run`."""

    thread_name = "background"

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Join the thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _run(self) -> None:
        raise NotImplementedError


class Call(BackgroundJob):
    """One function call in the background (e.g. reading a checkpoint): `finished(result)` or `failed(message)`.
    `expected` exceptions are reported by their message alone; any other also by its type. A function that
    reports how far it is can be handed `progress.emit` (done, total)."""

    thread_name = "call"
    finished = Signal(object)
    failed = Signal(str)
    progress = Signal(int, int)  # done, total

    def __init__(self, fn: Callable[[], Any], expected: tuple[type[BaseException], ...] = (),
                 parent: QObject | None = None):
        super().__init__(parent)
        self.fn, self.expected = fn, expected

    def _run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # report, never crash the app
            self._report(exc)
        else:
            self.finished.emit(result)

    def _report(self, exc: Exception) -> None:
        self.failed.emit(str(exc) if isinstance(exc, self.expected) else f"{type(exc).__name__}: {exc}")


class FolderScan(Call):
    """Read an image folder in the background; cancellable. `finished(ImageSet)`, `failed(message)` or
    `cancelled()`."""

    thread_name = "folder-scan"
    cancelled = Signal()

    def __init__(self, folder: str, resolution: int, parent: QObject | None = None):
        self.folder, self.resolution = folder, resolution
        self._cancel = threading.Event()
        super().__init__(self._scan, expected=(DatasetError,), parent=parent)

    def cancel(self) -> None:
        self._cancel.set()

    def _scan(self) -> ImageSet:
        return load_folder(self.folder, self.resolution, progress=self.progress.emit, cancel=self._cancel.is_set)

    def _report(self, exc: Exception) -> None:
        if isinstance(exc, ScanCancelled):
            self.cancelled.emit()
        else:
            super()._report(exc)


class TrainingRun(BackgroundJob):
    """A training run in a background thread; every engine event arrives as `event` on the GUI thread."""

    thread_name = "training"
    event = Signal(object)
    ended = Signal()  # the thread has finished, whatever the reason

    def __init__(self, config, images: ImageSet | None, resume: bool = False, parent: QObject | None = None):
        super().__init__(parent)
        self.config, self.images, self.resume = config, images, resume
        self.control = TrainControl()

    def pause(self) -> None:
        self.control.pause()

    def resume_training(self) -> None:
        self.control.resume()

    def stop(self) -> None:
        self.control.stop()

    def _run(self) -> None:
        from trainers import events as ev

        try:
            for event in train(self.config, images=self.images, control=self.control, resume=self.resume):
                self.event.emit(event)
        except (ConfigError, DatasetError, CheckpointError) as exc:  # set-up errors: the message says it all
            self.event.emit(ev.Failed(str(exc), details=traceback.format_exc()))
        except Exception as exc:
            self.event.emit(ev.Failed(f"{type(exc).__name__}: {exc}", details=traceback.format_exc()))
        finally:
            self.images = None  # the dataset is the studio's to keep or drop; a finished run holds no copy
            import torch

            if torch.cuda.is_initialized():  # the run's cached GPU memory goes back, for onnxruntime and others
                torch.cuda.empty_cache()
            self.ended.emit()


class Renderer(QObject):
    """One background thread that runs rendering jobs; a newer job with the same key replaces a waiting one.

    Scrubbing a slider submits many jobs: only the latest of each key is rendered, so the view keeps up.
    """

    done = Signal(str, object)  # key, result
    failed = Signal(str, str)  # key, message
    progress = Signal(str, int, int)  # key, done, total: from a long job that reports as it goes

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._jobs: dict[str, Callable[[], Any]] = {}
        self._lock = threading.Condition()
        self._closing = False
        self._busy = False
        self._thread = threading.Thread(target=self._loop, name="renderer", daemon=True)
        self._thread.start()

    def submit(self, key: str, job: Callable[[], Any]) -> None:
        with self._lock:
            self._jobs.pop(key, None)
            self._jobs[key] = job
            self._lock.notify()

    def superseded(self, key: str) -> bool:
        """For a long job to ask between its parts: a newer job of its key is waiting (or the renderer is
        closing), so its result would be thrown away."""
        with self._lock:
            return self._closing or key in self._jobs

    def idle(self) -> bool:
        with self._lock:
            return not self._jobs and not self._busy

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._closing = True
            self._jobs.clear()
            self._lock.notify()
        self._thread.join(timeout)

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._jobs and not self._closing:
                    self._lock.wait()
                if self._closing:
                    return
                key = next(iter(self._jobs))
                job = self._jobs.pop(key)
                self._busy = True
            try:
                result = job()
            except Exception as exc:
                self.failed.emit(key, f"{type(exc).__name__}: {exc}")
            else:
                self.done.emit(key, result)
            finally:
                with self._lock:
                    self._busy = False


class ProcessRun(BackgroundJob):
    """A training run in child processes: `torchrun` with one process per GPU (or gloo processes on a CPU).

    The CLI does the training; this reads the run folder as it grows (log.jsonl, samples/, checkpoints/)
    and emits the same engine events as `TrainingRun`, so the Train panel shows it the same way.
    Pause is not available; stop sends SIGTERM to torchrun, which stops its processes after their step
    (process 0 writes a checkpoint first).
    """

    thread_name = "training"
    event = Signal(object)
    ended = Signal()

    def __init__(self, config, processes: int, resume: bool = False, parent: QObject | None = None):
        super().__init__(parent)
        self.config, self.processes, self.resume = config, processes, resume
        self.control = TrainControl()  # pause is refused; stop is forwarded as a signal
        self.process = None
        self.output: list[str] = []

    def command(self, config_path: str) -> list[str]:
        import sys

        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={self.processes}",
               "-m", "trainers", "train", "--config", config_path, "--quiet"]
        return cmd + (["--resume", "--out", self.config.out] if self.resume else [])

    def pause(self) -> None:
        self.event.emit(_notice("pausing is not available for a multi-process run; stop and resume it instead"))

    def resume_training(self) -> None:
        pass

    def stop(self) -> None:
        import signal

        self.control.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def _run(self) -> None:
        import json
        import os
        import re
        import subprocess
        import tempfile
        import time
        from pathlib import Path

        import numpy as np
        from PIL import Image

        from trainers import events as ev
        from trainers.checkpoint import checkpoint_step, latest_checkpoint, list_checkpoints
        from trainers.loop import LogFollower, scored_against, time_left, trim_log

        run = Path(self.config.out)
        run.mkdir(parents=True, exist_ok=True)
        handle, config_path = tempfile.mkstemp(suffix=".json", prefix="gan-studio-run-")
        with os.fdopen(handle, "w") as f:
            json.dump(self.config.to_dict(), f)
        seen_samples, seen_checkpoints = set(), set()
        reference = scored_against(self.config)
        latest = latest_checkpoint(run) if self.resume else None
        if latest is not None:
            # The panel already shows the run up to its checkpoint. The child processes would drop the log lines
            # written after it, as they start; dropping them first means that every line from now on is new.
            trim_log(run, checkpoint_step(latest))
            seen_samples = set((run / "samples").glob("step-*.png"))
            seen_checkpoints = set(list_checkpoints(run))
        log = LogFollower(run)
        history = log.new_rows() if latest is not None else []  # a resumed run's history is shown already
        started = time.monotonic()

        first_row = None  # (step, training seconds) of this session's first progress line, for the time left
        last_row: dict = history[-1] if history else {}  # the newest line: images seen and training time, at the end
        output_read = 0  # lines of the processes' output looked at for notes

        def poll() -> None:
            nonlocal first_row, output_read, last_row
            output = self.output[output_read:]
            output_read += len(output)
            for line in output:  # what process 0 says as it starts, and its notes (a rollback, possible collapse, ...)
                line = re.sub(r"^\[[^\]]*\]:?\s*", "", line.strip())  # torchrun may prefix "[rank0]:"
                if line.startswith("note: "):
                    self.event.emit(ev.Notice(line[len("note: "):]))
                start = re.match(r"^training (\S+) on ([\d,]+) images, (.*), run (.*?)(?:, resuming at step (\d+))?$",
                                 line)
                if start:
                    device = start.group(3).split(", process ")[0]
                    self.event.emit(ev.Started(run_dir=str(run), family=start.group(1),
                                               device=f"{device} × {self.processes} processes, torchrun",
                                               num_images=int(start.group(2).replace(",", "")),
                                               step=int(start.group(5) or 0), total_steps=self.config.steps))
            for row in log.new_rows():
                last_row = row
                stats = {k: v for k, v in row.items() if "/" in k}
                if "Score/SWD" in stats:  # a quality score, not a progress line
                    self.event.emit(ev.Scored(step=row["step"], images_seen=row["images_seen"],
                                              scores={k[len("Score/"):]: v for k, v in stats.items()
                                                      if k.startswith("Score/")},
                                              n=row.get("score_n", self.config.score_n), reference=reference,
                                              seconds=0.0))
                    continue
                elapsed = row.get("elapsed_s", 0.0)
                first_row = first_row or (row["step"], elapsed)
                rate = (row["step"] - first_row[0]) / (elapsed - first_row[1]) if elapsed > first_row[1] else None
                deadline = self.config.minutes * 60 if self.config.minutes else None
                self.event.emit(ev.Progress(step=row["step"], images_seen=row["images_seen"], stats=stats,
                                            img_per_s=stats.get("Speed/img_per_s", 0.0), elapsed_s=elapsed,
                                            eta_s=time_left(self.config.steps, row["step"], rate, deadline,
                                                            elapsed - first_row[1])))
            samples = sorted((run / "samples").glob("step-*.png")) if (run / "samples").is_dir() else []
            for path in samples:
                if path not in seen_samples:
                    seen_samples.add(path)
                    grid = np.asarray(Image.open(path).convert("RGB"))
                    step = int(path.stem.split("-")[1])  # step-000001500.png
                    self.event.emit(ev.Samples(step=step, images_seen=0, grid=grid, path=str(path)))
            for path in sorted((run / "checkpoints").glob("step-*.pt")) if (run / "checkpoints").is_dir() else []:
                if path not in seen_checkpoints:
                    seen_checkpoints.add(path)
                    self.event.emit(ev.Checkpointed(step=checkpoint_step(path), images_seen=0, path=str(path)))

        try:
            self.process = subprocess.Popen(self.command(config_path), stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
            reader = threading.Thread(target=lambda: self.output.extend(self.process.stdout), daemon=True)
            reader.start()
            while self.process.poll() is None:
                poll()
                time.sleep(0.5)
            reader.join(5)
            poll()
            code = self.process.returncode
            if code == 0 or (self.control.stop_requested and seen_checkpoints):
                last = max(seen_checkpoints, default=None)
                self.event.emit(ev.Finished(step=checkpoint_step(last) if last else 0,
                                            images_seen=last_row.get("images_seen", 0),
                                            elapsed_s=last_row.get("elapsed_s", time.monotonic() - started),
                                            stopped=self.control.stop_requested,
                                            checkpoint=str(last) if last else None))
            else:
                tail = "".join(self.output[-15:])
                self.event.emit(ev.Failed(f"the training processes ended with code {code}", details=tail))
        except OSError as exc:
            self.event.emit(ev.Failed(f"could not start torchrun: {exc}"))
        finally:
            os.unlink(config_path)
            self.ended.emit()


def _notice(message: str):
    from trainers import events as ev

    return ev.Notice(message)
