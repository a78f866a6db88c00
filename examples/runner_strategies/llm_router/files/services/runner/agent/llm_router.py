"""Arm ``llm``: an OpenAI-compatible chat endpoint names the intent of a message.

Off by default, twice: the arm is not declared in state (declare it to use
it), and without ``RATCHET_RUNNER_LLM_BASE_URL`` and ``_MODEL`` it asks
nothing. Whenever the endpoint cannot answer — not configured, down, slow,
an answer that names no intent — the arm returns the centroid's scores, so
a route call never fails because of it. The endpoint's choice is put on top
of the centroid's scores, which keep supplying the alternatives.
"""

from __future__ import annotations

import logging
import re

import httpx
import numpy as np
from numpy.typing import NDArray
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)
MARGIN = 0.1  # how far the endpoint's intent is put above the centroid's best score
SYSTEM = (
    "You route customer messages to intents. Answer with exactly one intent name "
    "from this list and nothing else:\n"
)


class LlmRouterSettings(BaseSettings):
    """The endpoint, from ``RATCHET_RUNNER_LLM_*`` (the Runner's core settings are static)."""

    model_config = SettingsConfigDict(env_prefix="RATCHET_RUNNER_LLM_", extra="ignore")

    base_url: str = ""
    model: str = ""
    api_key: SecretStr | None = None
    timeout: float = Field(default=5.0, gt=0)


def pick(answer: str, labels: tuple[str, ...]) -> str | None:
    """The intent ``answer`` names: the whole answer, else the one label it mentions."""
    cleaned = answer.strip().strip("`'\".").strip()
    if cleaned in labels:
        return cleaned
    mentioned = {label for label in labels if re.search(rf"\b{re.escape(label)}\b", answer)}
    return mentioned.pop() if len(mentioned) == 1 else None


class LlmRouter:
    """One HTTP client for the process; thread-safe (httpx.Client is)."""

    def __init__(self, settings: LlmRouterSettings | None = None) -> None:
        self.settings = settings or LlmRouterSettings()
        headers = {}
        if self.settings.api_key is not None:
            headers["Authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
        self._http = httpx.Client(headers=headers, timeout=self.settings.timeout)
        self.calls = 0  # questions asked (for tests and cost accounting)

    @property
    def configured(self) -> bool:
        return bool(self.settings.base_url and self.settings.model)

    def close(self) -> None:
        self._http.close()

    def ask(self, text: str, labels: tuple[str, ...]) -> str | None:
        """The endpoint's intent for ``text``, or None (logged) when it has none."""
        if not self.configured:
            return None
        self.calls += 1
        url = self.settings.base_url.rstrip("/") + "/chat/completions"
        body = {
            "model": self.settings.model,
            "messages": [
                {"role": "system", "content": SYSTEM + "\n".join(labels)},
                {"role": "user", "content": text},
            ],
            "max_tokens": 20,
            "temperature": 0,
        }
        try:
            response = self._http.post(url, json=body)
            response.raise_for_status()
            answer = response.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning("llm arm: no answer from %s (%s): centroid instead", url, exc)
            return None
        intent = pick(str(answer), labels)
        if intent is None:
            log.warning("llm arm: the answer %r names no single intent: centroid instead", answer)
        return intent

    def scores(
        self, text: str, labels: tuple[str, ...], fallback: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        intent = self.ask(text, labels)
        if intent is None:
            return fallback
        scores = fallback.copy()
        scores[labels.index(intent)] = float(fallback.max()) + MARGIN
        return scores
