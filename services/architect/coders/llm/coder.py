"""The ``llm`` coder: asks an OpenAI-compatible chat endpoint for SEARCH/REPLACE edits.

One conversation per candidate: the first question (:mod:`.prompt`), then, for
an answer whose edits are malformed or do not apply (nothing is written), the
error as a follow-up, up to ``max_attempts`` questions. Every answer's tokens
and cost are recorded in the spend ledger before it is used, and no question
is asked once the job or the day has reached its cost cap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from pydantic import SecretStr

from examples.catalog import Catalog, library

from ...settings import ArchitectSettings
from ..base import Coder, CoderError, CodingRequest, Proposal
from .client import ChatClient, ChatError, Usage
from .edits import SEARCH, EditError, apply_edits, parse_edits
from .prompt import Prompt, build_prompt, retry_message
from .spend import CapReached, Caps, SpendLedger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key: SecretStr | None
    timeout: float
    max_tokens: int


@dataclass(frozen=True)
class Prices:
    input_per_1k: float
    output_per_1k: float


@dataclass
class Totals:
    questions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def add(self, usage: Usage, cost: float) -> None:
        self.questions += 1
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cost += cost

    def __str__(self) -> str:
        return (
            f"{self.questions} question(s), {self.prompt_tokens} tokens in, "
            f"{self.completion_tokens} out, ${self.cost:.4f}"
        )


def explanation(answer: str) -> str:
    """The first line of prose before the first edit block (the change's one-line summary)."""
    head = answer.split(SEARCH, 1)[0].splitlines()
    if answer.count(SEARCH):
        head = head[:-1]  # the block's path line
    for line in head:
        text = line.strip().strip("#*` ")
        if text and not text.startswith("```"):
            return text[:160]
    return "no explanation given"


def _asked(endpoint: Endpoint, request: CodingRequest, prompt: Prompt) -> str:
    feedback = request.text if len(request.text) <= 200 else request.text[:200] + "…"
    evidence = ", ".join(sorted(request.evidence or {})) or "none"
    return (
        f"asked {endpoint.model} at {endpoint.base_url}: feedback {feedback!r}; evidence: "
        f"{evidence}; files: {', '.join(prompt.files) or 'none'}"
        + (f" (left out for size: {', '.join(prompt.omitted)})" if prompt.omitted else "")
        + f"; examples: {', '.join(prompt.examples) or 'none'}; {prompt.chars} characters"
    )


class LlmCoder(Coder):
    name = "llm"

    def __init__(
        self,
        endpoint: Endpoint,
        ledger: Callable[[], SpendLedger],
        *,
        prices: Prices,
        caps: Caps,
        max_attempts: int = 3,
        prompt_chars: int = 120_000,
        catalog: Catalog | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.ledger = ledger  # opens the spend ledger (closed after each proposal)
        self.prices = prices
        self.caps = caps
        self.max_attempts = max_attempts
        self.prompt_chars = prompt_chars
        self.catalog = catalog or library()

    @classmethod
    def from_settings(cls, settings: ArchitectSettings) -> Self:
        if not (settings.llm_base_url and settings.llm_model):
            raise CoderError(
                "the llm coder needs RATCHET_ARCHITECT_LLM_BASE_URL and RATCHET_ARCHITECT_LLM_MODEL"
            )
        return cls(
            Endpoint(
                settings.llm_base_url,
                settings.llm_model,
                settings.llm_api_key,
                settings.llm_timeout,
                settings.llm_max_tokens,
            ),
            lambda: SpendLedger.open(settings),
            prices=Prices(settings.llm_price_input_per_1k, settings.llm_price_output_per_1k),
            caps=Caps(settings.llm_job_cap_usd, settings.llm_daily_cap_usd),
            max_attempts=settings.llm_max_attempts,
            prompt_chars=settings.llm_prompt_chars,
        )

    def propose(self, request: CodingRequest, worktree: Path, index: int) -> Proposal:
        ledger = self.ledger()
        client = ChatClient(
            self.endpoint.base_url,
            self.endpoint.model,
            self.endpoint.api_key,
            timeout=self.endpoint.timeout,
            max_tokens=self.endpoint.max_tokens,
        )
        try:
            return self._converse(request, worktree, ledger, client)
        finally:
            client.close()
            ledger.close()

    def _converse(
        self, request: CodingRequest, tree: Path, ledger: SpendLedger, client: ChatClient
    ) -> Proposal:
        prompt = build_prompt(request, tree, self.catalog, self.prompt_chars)
        lines = [_asked(self.endpoint, request, prompt)]
        messages = list(prompt.messages)
        totals = Totals()
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                ledger.check(request.job_id, self.caps)
            except CapReached as exc:
                lines.append(f"stopped before question {attempt}: {exc}")
                raise CoderError(f"{exc} (this candidate: {totals})", lines) from None
            try:
                reply = client.complete(messages)
            except ChatError as exc:
                raise CoderError(f"question {attempt}: {exc}", lines) from None
            cost = reply.usage.cost(self.prices.input_per_1k, self.prices.output_per_1k)
            ledger.record(request.job_id, reply.model, reply.usage, cost)
            totals.add(reply.usage, cost)
            counted = (
                f"question {attempt}: {reply.usage.prompt_tokens} tokens in, "
                f"{reply.usage.completion_tokens} out"
                + (" (estimated: no usage in the answer)" if reply.usage.estimated else "")
                + f", ${cost:.4f}"
            )
            log.info("job %s: %s", request.job_id, counted)
            try:
                blocks = parse_edits(reply.content)
                changed = apply_edits(tree, blocks)
            except EditError as exc:
                error = str(exc)
                lines.append(f"{counted}; edits refused, nothing applied: {error}")
                messages += [{"role": "assistant", "content": reply.content}, retry_message(error)]
                continue
            lines.append(f"{counted}; {len(blocks)} edit block(s) applied")
            lines.append(
                f"total {totals}; job spend ${ledger.job_spend(request.job_id):.4f} of "
                f"${self.caps.job_usd:.4f}, today ${ledger.day_spend():.4f} of "
                f"${self.caps.daily_usd:.4f}"
            )
            lines += [f"changed {path}" for path in changed]
            return Proposal(f"llm {reply.model}: {explanation(reply.content)}", lines)
        raise CoderError(
            f"no usable edit after {self.max_attempts} question(s) ({totals}); last error: {error}",
            lines,
        )
