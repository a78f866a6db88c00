"""A client for OpenAI-compatible chat completions (``POST {base}/chat/completions``).

Only what the coder needs: messages in, the first choice's text and the
token ``usage`` out. Any failure — unreachable endpoint, timeout, an HTTP
error, a body that is not a chat completion — is a :class:`ChatError` with
a reason fit for a job's log (the API key never appears in it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import httpx
from pydantic import SecretStr


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatError(Exception):
    """The endpoint gave no usable answer."""


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False  # the endpoint sent no usage: counted from characters

    def cost(self, input_per_1k: float, output_per_1k: float) -> float:
        return (self.prompt_tokens * input_per_1k + self.completion_tokens * output_per_1k) / 1000


@dataclass(frozen=True, slots=True)
class ChatReply:
    content: str
    usage: Usage
    model: str


CHARS_PER_TOKEN = 4  # a rough rule, used only when the endpoint reports no usage


def _estimate(messages: list[Message], content: str) -> Usage:
    prompt = sum(len(m["content"]) for m in messages)
    return Usage(prompt // CHARS_PER_TOKEN + 1, len(content) // CHARS_PER_TOKEN + 1, True)


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:300]
    return str(error or body)[:300]


def _usage(body: dict[str, Any]) -> Usage | None:
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt, completion)


class ChatClient:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: SecretStr | None,
        *,
        timeout: float,
        max_tokens: int,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_tokens = max_tokens
        headers = {"Accept": "application/json"}
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key.get_secret_value()}"
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=10.0))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(self, messages: list[Message]) -> ChatReply:
        """The model's answer to ``messages``; ChatError if there is none."""
        payload = {"model": self.model, "messages": messages, "max_tokens": self.max_tokens}
        try:
            response = self._http.post(self.url, json=payload)
        except httpx.TimeoutException:
            waited = self._http.timeout.read
            raise ChatError(f"{self.url} did not answer within {waited} s") from None
        except httpx.HTTPError as exc:
            raise ChatError(f"cannot reach {self.url}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise ChatError(
                f"{self.url} answered HTTP {response.status_code}: {_error_detail(response)}"
            )
        try:
            body = response.json()
            content = body["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ChatError(
                f"{self.url} answered 200 without a chat completion: {response.text[:200]!r}"
            ) from None
        if not isinstance(content, str):
            raise ChatError(f"{self.url} answered with no text content (got {content!r:.80})")
        usage = _usage(body) or _estimate(messages, content)
        return ChatReply(content, usage, str(body.get("model") or self.model))
