"""Override rules mined from corrected mistakes, kept only if dev accuracy allows.

A rule says "a message containing all of these words is intent X"; the router
applies the first matching rule before any model. Rules are cheap, readable
fixes for what the model keeps getting wrong, and dangerous for the same
reason: one fires on every matching message. So there are two filters:

1. ``mine_rules``: word sets (1 or 2 words) shared by at least ``min_support``
   corrected mistakes, all corrected to the same intent, whose share of that
   intent among training examples containing them is at least ``min_confidence``;
2. ``select_rules``: a greedy gate that adds candidates one at a time and keeps
   one only if the caller's ``evaluate`` (dev accuracy with those rules) goes
   up, so the kept set never lowers dev accuracy.

Pure: no I/O; ``evaluate`` is the caller's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, NamedTuple, Protocol

from ratchet.words import words

# Three independent corrections agreeing is a pattern; one or two can be a slip.
DEFAULT_MIN_SUPPORT = 3
# A rule overrides the model on every match, so it must beat the model by a
# margin: the default centroid arm is right ~80% of the time on dev.
DEFAULT_MIN_CONFIDENCE = 0.9
MAX_WORDS = 2  # pairs catch "card" + "arrive"; triples multiply candidates for little gain
DIGITS = 4

# Function words only: negations and "still" stay, they carry intent here
# ("card has not arrived", "still pending").
_STOPWORDS = """
a about am an and any are as at be been but by can could did do does for from had has have how
i i'm if in is it it's me my of on or our so that the their there this to was we were what when
where which who why will with would you your
"""
STOPWORDS = frozenset(_STOPWORDS.split())


class Mistake(NamedTuple):
    text: str
    predicted: str
    correct: str


class Labelled(Protocol):
    """A reference example: ``ratchet.datasets.Example`` or anything with these."""

    @property
    def text(self) -> str: ...

    @property
    def intent(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    all_of: tuple[str, ...]  # sorted, lower-case
    intent: str
    support: int  # corrected mistakes containing all the words
    confidence: float  # share of ``intent`` among reference examples containing them

    def as_rule(self) -> dict[str, Any]:
        """The state's ``Rule`` shape, as JSON."""
        return {
            "id": self.id,
            "all_of": list(self.all_of),
            "intent": self.intent,
            "support": self.support,
            "confidence": round(self.confidence, DIGITS),
        }


def rule_id(intent: str, all_of: Iterable[str]) -> str:
    return f"rule-{intent}-{'-'.join(sorted(all_of))}"


def content_words(text: str) -> set[str]:
    """The words rules are matched against, minus stopwords and single characters."""
    return {w for w in words(text) if len(w) > 1 and w not in STOPWORDS}


def mine_rules(
    mistakes: Iterable[Mistake | tuple[str, str, str]],
    corpus: Iterable[Labelled],
    min_support: int = DEFAULT_MIN_SUPPORT,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    max_words: int = MAX_WORDS,
) -> list[Candidate]:
    """Candidate rules, best first: confidence, then support, then more words.

    Entries whose prediction was right are ignored, and a text corrected twice to
    the same intent counts once: it is one piece of evidence.
    """
    if min_support < 1 or not 0 <= min_confidence <= 1 or max_words < 1:
        raise ValueError("need min_support >= 1, 0 <= min_confidence <= 1, max_words >= 1")
    corrected = {(text, correct) for text, predicted, correct in mistakes if predicted != correct}
    # Word set -> intent -> how many corrected mistakes contain it.
    seen: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for text, correct in corrected:
        present = sorted(content_words(text))
        for size in range(1, max_words + 1):
            for word_set in combinations(present, size):
                seen[word_set][correct] += 1
    # "All corrected to the same intent": a set shared by mistakes of two intents is ambiguous.
    supported = {
        word_set: next(iter(by_intent.items()))
        for word_set, by_intent in seen.items()
        if len(by_intent) == 1 and next(iter(by_intent.values())) >= min_support
    }
    if not supported:
        return []
    wanted = {w for word_set in supported for w in word_set}
    examples: list[str] = []
    containing: dict[str, set[int]] = defaultdict(set)  # inverted index, wanted words only
    for i, example in enumerate(corpus):
        examples.append(example.intent)
        for w in words(example.text) & wanted:
            containing[w].add(i)

    found: dict[tuple[str, ...], Candidate] = {}
    for word_set, (intent, support) in supported.items():
        matches = set.intersection(*(containing.get(w, set()) for w in word_set))
        if not matches:
            continue  # no reference evidence: the rule would be a guess
        confidence = sum(examples[i] == intent for i in matches) / len(matches)
        if confidence >= min_confidence:
            found[word_set] = Candidate(
                rule_id(intent, word_set), word_set, intent, support, confidence
            )
    return sorted(
        (c for c in found.values() if not _redundant(c, found)),
        key=lambda c: (-c.confidence, -c.support, -len(c.all_of), c.id),
    )


def _redundant(candidate: Candidate, found: Mapping[tuple[str, ...], Candidate]) -> bool:
    """A word set adds nothing if a subset of it already makes an at-least-as-sure
    rule for the same intent: the subset's rule fires on every message it would."""
    for size in range(1, len(candidate.all_of)):
        for subset in combinations(candidate.all_of, size):
            other = found.get(subset)
            if (
                other is not None
                and other.intent == candidate.intent
                and other.confidence >= candidate.confidence
            ):
                return True
    return False


@dataclass(frozen=True, slots=True)
class Selection:
    rules: list[dict[str, Any]]  # existing rules, then the kept ones: the router's order
    kept: list[Candidate]
    baseline: float  # evaluate(existing rules)
    score: float  # evaluate(rules)
    evaluations: int


def select_rules(
    candidates: Sequence[Candidate],
    existing_rules: Sequence[Mapping[str, Any]],
    evaluate: Callable[[list[dict[str, Any]]], float],
    max_rules: int = 10,
    max_tries: int = 50,
    keep_ties: bool = False,
) -> Selection:
    """Greedily add candidates (in the given order), keeping those that raise ``evaluate``.

    By default a candidate is kept only if the score goes up (>): a rule that
    leaves dev accuracy unchanged is unverified, fires on every matching message
    from then on, and takes a place in ``max_rules``. On the default task the strict gate
    reached a higher dev accuracy with fewer rules than one keeping ties, whose
    neutral rules filled the budget. ``keep_ties=True`` keeps those too (>=), for
    rules whose evidence dev cannot see. Either way the final set never scores
    below the existing rules alone. New rules go after the existing ones, so
    rules already vetted keep precedence. At most ``1 + max_tries`` calls to
    ``evaluate``.
    """
    if max_rules < 0 or max_tries < 0:
        raise ValueError("max_rules and max_tries must be >= 0")
    rules = [dict(rule) for rule in existing_rules]
    present = {rule["id"] for rule in rules} | {
        (tuple(sorted(rule["all_of"])), rule["intent"]) for rule in rules
    }
    current = baseline = evaluate(list(rules))
    evaluations, tries = 1, 0
    kept: list[Candidate] = []
    for candidate in candidates:
        if len(kept) >= max_rules or tries >= max_tries:
            break
        if candidate.id in present or (candidate.all_of, candidate.intent) in present:
            continue  # already a rule: nothing to test
        tries += 1
        trial = [*rules, candidate.as_rule()]
        score = evaluate(list(trial))
        evaluations += 1
        if score > current or (keep_ties and score == current):
            rules, current = trial, score
            kept.append(candidate)
            present.add(candidate.id)
    return Selection(rules, kept, baseline, current, evaluations)
