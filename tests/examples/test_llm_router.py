"""Template ``runner_strategies/llm_router``: against a local OpenAI-compatible server
replaying recorded answers (no real endpoint is reachable here), the endpoint's intent
tops the scores; anything else falls back to the centroid; unconfigured, it asks nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import SecretStr

from ratchet import datasets
from ratchet.ci.micro import run_micro
from services.architect.candidates import read_state
from services.architect.coders.template import apply_template, rank
from services.runner.agent.model import train
from services.runner.agent.state import Features
from tests.conftest import PROJECT_ROOT
from tests.examples.conftest import accuracy, catalog, template_module
from tests.helpers.head_tree import head_tree
from tests.helpers.openai_replay import replaying, write_script

TEMPLATE = "runner_strategies/llm_router"
MODULE = "services/runner/agent/llm_router.py"


def test_the_endpoint_names_the_intent_and_anything_else_falls_back(tmp_path: Path) -> None:
    _, module = template_module(TEMPLATE, MODULE)
    labels = datasets.labels(PROJECT_ROOT)
    fallback = np.linspace(0.0, 0.5, len(labels))  # the centroid's best: the last label
    script = write_script("router_answers.json", tmp_path / "script.json")
    with replaying(script) as server:
        settings = module.LlmRouterSettings(
            base_url=server.base_url, model="replay-1", api_key=SecretStr("sk-router")
        )
        router = module.LlmRouter(settings)
        texts = ["where is my card?", "I lost my card", "hello", "my card?"]
        results = [router.scores(text, labels, fallback) for text in texts]
        asked = server.requests()
    router.close()
    assert labels[int(np.argmax(results[0]))] == "card_arrival"
    assert labels[int(np.argmax(results[1]))] == "lost_or_stolen_card"
    assert results[0].max() == fallback.max() + module.MARGIN
    assert np.array_equal(results[2], fallback) and np.array_equal(results[3], fallback)
    assert router.calls == 4 and len(asked) == 4
    first = asked[0]
    assert first["authorization"] == "Bearer sk-router"
    assert first["body"]["messages"][1]["content"] == texts[0]
    assert all(label in first["body"]["messages"][0]["content"] for label in labels)


def test_unconfigured_it_asks_nothing_and_scores_as_the_centroid() -> None:
    template, module = template_module(TEMPLATE, MODULE)
    router = module.LlmRouter(module.LlmRouterSettings(base_url="", model=""))
    labels = datasets.labels(PROJECT_ROOT)
    centroid = train(datasets.load(PROJECT_ROOT, "train"), labels, Features())

    def score(text: str) -> np.typing.NDArray[np.float64]:
        scores: np.typing.NDArray[np.float64] = router.scores(
            text, labels, centroid.centroid_scores(centroid.vectorize(text))
        )
        return scores

    dev, _ = accuracy(score, "dev")
    assert router.calls == 0
    assert dev >= template.test.min_dev_accuracy, dev
    assert abs(dev - template.measured.dev_accuracy) < 0.01, "update the template's metadata"


def test_it_is_off_by_default_and_applies_to_head(tmp_path: Path) -> None:
    """Never proposed by the template coder; applied by hand, the Runner still passes micro
    (no state patch: nothing changes until a human declares the arm)."""
    library = catalog()
    template = library.templates[TEMPLATE]
    assert template.needs and template.cost.usd_per_1k_calls > 0 and not template.state_patch
    assert TEMPLATE not in [r.template.id for r in rank(library, "the llm gpt endpoint misrouted")]
    tree = head_tree(tmp_path / "tree")
    assert apply_template(library, template, tree) == sorted(template.paths())
    # Declared greedy with no endpoint configured, the arm routes as the centroid.
    state = read_state(tree)
    data = {**state.data, "strategy": {"arms": {"llm": {"alpha": 9.0, "beta": 1.0}}}}
    micro = run_micro(state.model_copy(update={"data": data}), tree)
    assert micro.passed, micro.reason
