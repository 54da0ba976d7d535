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

from trainers.data import DatasetError, ImageSet, ScanCancelled, load_folder
from trainers.loop import TrainControl, train


class FolderScan(QObject):
    """Read an image folder in the background; cancellable."""

    progress = Signal(int, int)  # done, total
    finished = Signal(object)  # ImageSet
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, folder: str, resolution: int, parent: QObject | None = None):
        super().__init__(parent)
        self.folder, self.resolution = folder, resolution
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="folder-scan", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            images = load_folder(self.folder, self.resolution, progress=self.progress.emit,
                                 cancel=self._cancel.is_set)
        except ScanCancelled:
            self.cancelled.emit()
        except DatasetError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # report, never crash the app
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.finished.emit(images)


class TrainingRun(QObject):
    """A training run in a background thread; every engine event arrives as `event` on the GUI thread."""

    event = Signal(object)
    ended = Signal()  # the thread has finished, whatever the reason

    def __init__(self, config, images: ImageSet, resume: bool = False, parent: QObject | None = None):
        super().__init__(parent)
        self.config, self.images, self.resume = config, images, resume
        self.control = TrainControl()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="training", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self.control.pause()

    def resume_training(self) -> None:
        self.control.resume()

    def stop(self) -> None:
        self.control.stop()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _run(self) -> None:
        from trainers import events as ev

        try:
            for event in train(self.config, images=self.images, control=self.control, resume=self.resume):
                self.event.emit(event)
        except Exception as exc:
            self.event.emit(ev.Failed(f"{type(exc).__name__}: {exc}", details=traceback.format_exc()))
        finally:
            self.ended.emit()


class Renderer(QObject):
    """One background thread that runs rendering jobs; a newer job with the same key replaces a waiting one.

    Scrubbing a slider submits many jobs: only the latest of each key is rendered, so the view keeps up.
    """

    done = Signal(str, object)  # key, result
    failed = Signal(str, str)  # key, message

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
