"""Routing one message: rules first, then the chosen strategy arm.

Arms: ``centroid`` (cosine to each intent's mean vector), ``knn`` (similarity-
weighted vote of the nearest training examples), ``blend`` (a weighted mix of
both). Scores become confidences through a softmax with the state's
temperature. Every arm's answer then meets the same abstain rule
(:mod:`.scope`): for a task with out-of-scope rows, an answer whose best
confidence is under the state's ``abstain_threshold`` is out of scope.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ratchet.words import words

from .model import SparseRow, TrainedModel
from .state import AgentState, ArmName, Reply, Rule

TOP_K = 3


@dataclass(frozen=True, slots=True)
class Scored:
    intent: str
    score: float


@dataclass(frozen=True, slots=True)
class Prediction:
    intent: str
    confidence: float
    alternatives: tuple[Scored, ...]
    arm: ArmName
    rule: str | None
    reply: Reply | None
    # No intent fits: ``intent`` is the task's out-of-scope label, ``reply`` its
    # out-of-scope reply, ``alternatives`` still the best in-scope guesses.
    out_of_scope: bool = False


class IntentRouter:
    """Immutable: a new state or model means a new router, swapped in whole."""

    def __init__(self, model: TrainedModel, state: AgentState) -> None:
        self.model = model
        self.state = state
        self._index = {label: i for i, label in enumerate(model.labels)}
        self._best_reply = {
            intent: max(variants, key=lambda r: r.strength)
            for intent, variants in state.replies.items()
            if variants
        }

    def choose_arm(self, conversation_id: str) -> ArmName:
        """The arm of a new conversation: Thompson sampling over the live arms for the
        ``explore_share`` of conversations that explore, the best mean for the others.

        Drawn from the conversation id: the same conversation under the same state
        always gets the same arm, and a replay of traffic is served as it was.
        """
        strategy = self.state.strategy
        seed = hashlib.sha256(conversation_id.encode()).digest()
        # Whether it explores is read off the digest: seeding a generator costs more
        # than the rest of a route call's choice, and only the explorers need one.
        if not strategy.explore or int.from_bytes(seed[:8]) / 2**64 >= strategy.explore_share:
            return strategy.best()
        rng = random.Random(int.from_bytes(seed[8:16]))
        live = strategy.live()
        draws = {name: rng.betavariate(arm.alpha, arm.beta) for name, arm in live.items()}
        return max(draws, key=lambda name: draws[name])

    def predict(self, text: str, arm: ArmName) -> Prediction:
        scores = self._scores(text, arm)
        probabilities = _softmax(scores, self.state.params.temperature.value)
        order = np.argsort(-probabilities)[:TOP_K]
        alternatives = tuple(
            Scored(self.model.labels[i], round(float(probabilities[i]), 4)) for i in order
        )
        intent, confidence, rule = alternatives[0].intent, alternatives[0].score, None
        matched = self._rule_for(text)
        scope = self.model.scope
        if matched is not None and scope is not None and matched.intent == scope.label:
            return self._out_of_scope(matched.confidence, alternatives, arm, matched.id)
        if matched is not None:
            intent, confidence, rule = matched.intent, matched.confidence, matched.id
        elif self._abstains(float(probabilities[order[0]])):
            return self._out_of_scope(confidence, alternatives, arm)
        return Prediction(intent, confidence, alternatives, arm, rule, self._best_reply.get(intent))

    def _abstains(self, confidence: float) -> bool:
        """The state's abstain rule, for a task with out-of-scope rows only.

        Checked here, after any arm's scores became confidences, so every arm
        (the templates' included, which plug in at :meth:`_scores`) meets it.
        A matched rule is a deliberate override: it answers its intent, or out
        of scope when its intent is the task's out-of-scope label (a rule mined
        from turns corrected to "out of scope").
        """
        scope = self.model.scope
        threshold = self.state.params.abstain_threshold.value
        return scope is not None and scope.abstains(confidence, threshold)

    def _out_of_scope(
        self,
        confidence: float,
        alternatives: tuple[Scored, ...],
        arm: ArmName,
        rule: str | None = None,
    ) -> Prediction:
        scope = self.model.scope
        assert scope is not None  # only called for a task with out-of-scope rows
        reply = Reply(id=f"{scope.label}.task", text=scope.reply)
        return Prediction(scope.label, confidence, alternatives, arm, rule, reply, True)

    def _scores(self, text: str, arm: ArmName) -> NDArray[np.float64]:
        row = self.model.vectorize(text)
        if arm == "centroid":
            return self.model.centroid_scores(row)
        if arm == "knn":
            return self._knn(row)
        weight = self.state.params.blend_weight.value
        return (1 - weight) * self.model.centroid_scores(row) + weight * self._knn(row)

    def _knn(self, row: SparseRow) -> NDArray[np.float64]:
        similarities = self.model.example_similarities(row)
        k = max(1, min(round(self.state.params.knn_k.value), similarities.size))
        nearest = np.argpartition(-similarities, k - 1)[:k]
        votes = np.zeros(len(self.model.labels))
        np.add.at(votes, self.model.example_labels[nearest], similarities[nearest])
        total = votes.sum()
        return votes / total if total > 0 else votes

    def _answerable(self, intent: str) -> bool:
        """An intent of the model, or the out-of-scope label of a task that has such rows."""
        scope = self.model.scope
        return intent in self._index or (scope is not None and intent == scope.label)

    def _rule_for(self, text: str) -> Rule | None:
        if not self.state.rules:
            return None
        present = words(text)
        for rule in self.state.rules:
            if self._answerable(rule.intent) and all(w in present for w in rule.all_of):
                return rule
        return None


def _softmax(scores: NDArray[np.float64], temperature: float) -> NDArray[np.float64]:
    z = scores / max(temperature, 1e-6)
    z = np.exp(z - z.max())
    result: NDArray[np.float64] = z / z.sum()
    return result
