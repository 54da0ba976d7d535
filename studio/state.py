"""The studio's shared state, free of Qt: the open dataset and model, and who wants to hear of changes.

Panels take the state in `__init__` and subscribe; only the GUI thread changes it.
"""

from __future__ import annotations

from typing import Any, Callable

from trainers.data import ImageSet
from trainers.inference import GeneratorModel

# Faces per model when the studio scores (Compare's Score button, and a run that scores while it trains): the
# same number, seeds and real faces in both, so that a run's score at step N is what Compare gives checkpoint N.
# The CLI's eval takes more (--n).
SCORE_IMAGES = 512


class Event:
    """A minimal event: connect(callback), emit(*args)."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)


class StudioState:
    def __init__(self) -> None:
        self.dataset: ImageSet | None = None
        self.dataset_name: str = ""
        self.model: GeneratorModel | None = None
        self.models: dict[str, GeneratorModel] = {}  # every model opened this session, by path
        # The dataset's last N images are held out of training (Train's Hold out): runs score their faces on them,
        # and so does Compare, so that both give a checkpoint the same figure.
        self.holdout: int = 0
        self.export_folder: str = ""  # where the user last saved or exported something: the next dialog opens there
        # (remembered between sessions by the main window)
        self.dataset_changed = Event()  # (ImageSet, name)
        self.model_changed = Event()  # (GeneratorModel)
        self.models_changed = Event()  # ()
        self.holdout_changed = Event()  # (int)

    def set_dataset(self, images: ImageSet, name: str) -> None:
        self.dataset, self.dataset_name = images, name
        self.dataset_changed.emit(images, name)

    def set_holdout(self, images: int) -> None:
        self.holdout = images
        self.holdout_changed.emit(images)

    def add_model(self, model: GeneratorModel) -> None:
        """Keep a model at hand (for Compare) without making it the current one."""
        if model.info.path not in self.models:
            self.models[model.info.path] = model
            self.models_changed.emit()

    def set_model(self, model: GeneratorModel) -> None:
        self.model = model
        self.add_model(model)
        self.model_changed.emit(model)
