"""Turning a state document into a serving router, reusing trained models."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ratchet import datasets
from ratchet.objects import ObjectStore

from .model import TrainedModel, load_or_train
from .router import IntentRouter
from .scope import scope_of
from .state import parse


class RouterFactory:
    """Builds routers; a state that differs only in what needs no training
    (thresholds, arms, replies, rules) reuses the model already in memory."""

    def __init__(self, store: ObjectStore, project_root: Path) -> None:
        self.store = store
        self.project_root = project_root
        self._models: dict[str, TrainedModel] = {}
        self._lock = threading.Lock()
        self.trainings = 0  # how many models this process trained (not loaded)

    def build(self, data: dict[str, Any]) -> IntentRouter:
        state = parse(data)
        key = state.training_key()
        with self._lock:
            model = self._models.get(key)
            if model is None:
                examples = datasets.load(self.project_root, "train")
                labels = datasets.labels(self.project_root)
                scope = scope_of(self.project_root)  # None: the task never abstains
                model, trained = load_or_train(
                    self.store, examples, labels, state.features, key, scope
                )
                self.trainings += int(trained)
                self._models = {key: model}  # keep one: the serving one
        return IntentRouter(model, state)
