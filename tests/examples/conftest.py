"""Helpers for the library's tests: a template's module loaded from its own file."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from examples.catalog import Catalog, Template, library
from ratchet import datasets
from services.architect.coders.template import chain_of
from tests.conftest import PROJECT_ROOT


def catalog() -> Catalog:
    return library()


def template_module(template_id: str, name: str) -> tuple[Template, ModuleType]:
    """The template and its module ``files/<name>`` imported standalone (no relative imports)."""
    found = catalog()
    template = found.templates[template_id]
    path = found.directory(template) / "files" / name
    module_name = "template_" + template_id.replace("/", "_")
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return template, module


def accuracy(
    score: Callable[[str], NDArray[np.float64]], split: datasets.Split
) -> tuple[float, float]:
    """(accuracy on ``split``, median milliseconds per message) of a scoring function."""
    labels = datasets.labels(PROJECT_ROOT)
    examples = datasets.load(PROJECT_ROOT, split)
    right, times = 0, []
    for example in examples:
        started = time.perf_counter()
        best = int(np.argmax(score(example.text)))
        times.append((time.perf_counter() - started) * 1000)
        right += labels[best] == example.intent
    return right / len(examples), float(np.median(times))


def template_package(template_id: str, module: str) -> tuple[Template, ModuleType]:
    """The template and ``services/runner/agent/<module>`` from its ``files/``, imported as
    part of a stand-in package, so the template's modules can import one another."""
    found = catalog()
    template = found.templates[template_id]
    package = "template_pkg_" + template_id.replace("/", "_")
    if package not in sys.modules:
        stand_in = ModuleType(package)
        # The template's own files first, then those of the templates it requires.
        stand_in.__path__ = [
            str(found.directory(t) / "files/services/runner/agent")
            for t in reversed(chain_of(found, template))
        ]
        sys.modules[package] = stand_in
    return template, importlib.import_module(f"{package}.{module}")


def router_of(heads: dict[str, Any], params: dict[str, float]) -> SimpleNamespace:
    """A stand-in for ``IntentRouter`` as the ensemble arm reads it: the state's declared
    params (``params.model_extra``) and each arm's scores (``_scores``)."""
    declared = {name: SimpleNamespace(value=value) for name, value in params.items()}
    return SimpleNamespace(
        state=SimpleNamespace(params=SimpleNamespace(model_extra=declared)),
        _scores=lambda text, arm: heads[arm](text),
    )
