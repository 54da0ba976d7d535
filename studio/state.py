"""The studio's shared state, free of Qt: the open dataset and model, and who wants to hear of changes.

Panels take the state in `__init__` and subscribe; only the GUI thread changes it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any, Callable, NamedTuple

import numpy as np

from trainers.data import ImageSet
from trainers.explore import Key, found_face
from trainers.inference import GeneratorModel

# Faces per model when the studio scores (Compare's Score button, and a run that scores while it trains): the
# same number, seeds and real faces in both, so that a run's score at step N is what Compare gives checkpoint N.
# The CLI's eval takes more (--n).
SCORE_IMAGES = 512


class SavedFaces(NamedTuple):
    """Saved faces dropped on Interpolate or Style mixing where some were saved with their latent (found for a
    picture, or edited): how the seed fields show them, and, through their files, enough to have them again in the
    next session."""
    text: str  # the seed field's text: "[a-found.png], 7"
    keys: list[Key]  # seeds, and the latents of faces saved with theirs
    labels: list[str]  # how each is named: "a-found.png", "seed 7"
    paths: list[str]  # each latent's file ("" where it is not known); "" for each seed
    model: str  # the model that made them

    @classmethod
    def of(cls, keys: list[Key], names: list[str], paths: list[str], model: str) -> "SavedFaces":
        """names and paths: one per latent among keys, in order."""
        names, paths = iter(names), iter(paths)
        labels, files = [], []
        for key in keys:
            latent = isinstance(key, np.ndarray)
            labels.append(next(names) if latent else f"seed {key}")
            files.append(next(paths, "") if latent else "")
        text = ", ".join(f"[{label}]" if isinstance(key, np.ndarray) else str(key) for key, label in zip(keys, labels))
        return cls(text, list(keys), labels, files, model)

    def remembered(self) -> str:
        """JSON for the next session: each seed, and each latent by its file (read again then), or, where it has none
        (a face and its edit sent from *Edit face…*), as its numbers."""
        faces: list[int | dict] = []
        for key, label, path in zip(self.keys, self.labels, self.paths):
            if not isinstance(key, np.ndarray):
                faces.append(int(key))
            elif path:
                faces.append({"label": label, "path": path})
            else:
                faces.append({"label": label, "shape": list(key.shape),
                              "latent": base64.b64encode(np.asarray(key, "<f4").tobytes()).decode("ascii")})
        return json.dumps({"text": self.text, "model": self.model, "faces": faces})

    @classmethod
    def recalled(cls, value: str) -> "SavedFaces | str":
        """`remembered`'s JSON read back, each latent from its file again; or what is wrong (a file gone or
        changed), "" for nothing remembered (or JSON that is not ours)."""
        try:
            saved = json.loads(value) if value else None
            text, model, faces = saved["text"], str(saved["model"]), saved["faces"]
            keys, labels, paths = [], [], []
            for face in faces:
                if isinstance(face, int):
                    keys.append(face)
                    continue
                label, path = str(face["label"]), str(face.get("path", ""))
                if path:
                    record = found_face(path)
                    if record is None:
                        return f"{os.path.basename(path)} is no longer at {path}"
                    latent = record.latent
                else:
                    latent = np.frombuffer(base64.b64decode(face["latent"]), "<f4").reshape(face["shape"])
                keys.append(latent.astype(np.float32))
                labels.append(label)
                paths.append(path)
        except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
            return ""
        again = cls.of(keys, labels, paths, model)
        return again if again.text == text else ""

    @classmethod
    def recall_for(cls, value: str, text: str) -> "tuple[SavedFaces | None, str]":
        """(the faces `remembered` in `value`, if they are the ones a seed field shows as `text`; else None, and
        why they cannot be had again: "" when there is nothing to say)."""
        saved = cls.recalled(value)
        if isinstance(saved, SavedFaces):
            return (saved, "") if saved.text == text else (None, "")
        return None, saved if "[" in text else ""


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
