"""Live-call alerts: a pure function from per-turn results to the triggers that fired.

The rules are the ``alerts`` section of the routing table::

    "alerts": {
      "cue_head": "emotion",                 # head classified on each customer utterance alone
      "score_crossings": [{"head": "escalation_risk", "labels": ["yes"], "threshold": 0.5}],
      "consecutive_cues": [{"labels": ["anger"], "turns": 2}],
      "ladders": [{"head": "dissatisfaction", "order": ["none", "implicit", "explicit"]}],
      "priority_at_or_above": "P1"
    }

- score crossing: the call-level summed score of ``labels`` rose from below ``threshold`` to at or above it;
- consecutive cue: the utterance cue was one of ``labels`` on ``turns`` customer turns in a row;
- ladder: the call-level label climbed above the highest rung the call had reached;
- priority: the call's priority became more urgent and is at or above the given level.

Before the first customer turn a call counts as scoring 0, at the lowest rung and at the lowest priority.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.routing import check_labels
from service.schemas import AlertTrigger


class ScoreCrossing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    head: str
    labels: list[str] = Field(min_length=1)
    threshold: float = Field(gt=0, lt=1)


class ConsecutiveCue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: list[str] = Field(min_length=1)
    turns: int = Field(ge=1)


class Ladder(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    head: str
    order: list[str] = Field(min_length=2)


class AlertRules(BaseModel):
    """Validated alert rules of one model version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cue_head: str
    score_crossings: list[ScoreCrossing] = Field(default_factory=list)
    consecutive_cues: list[ConsecutiveCue] = Field(default_factory=list)
    ladders: list[Ladder] = Field(default_factory=list)
    priority_at_or_above: str | None = None
    priority_levels: list[str] = Field(default_factory=list, description="Most urgent first; from routing.")

    @property
    def history_needed(self) -> int:
        """How many past turns ``detect_alert`` looks at."""
        return max([c.turns for c in self.consecutive_cues] + [64])


def parse_alert_rules(
    raw: Mapping[str, Any], heads: Mapping[str, list[str]], priority_levels: Sequence[str]
) -> AlertRules:
    """Validates the ``alerts`` section against the version's heads and the routing's priority levels."""
    try:
        rules = AlertRules.model_validate({**raw, "priority_levels": list(priority_levels)})
    except ValidationError as exc:
        raise ValueError(f"invalid alert rules: {exc}") from exc
    check_labels("alerts cue_head", rules.cue_head, [], heads)
    for rule in rules.score_crossings:
        check_labels("alerts score_crossings", rule.head, rule.labels, heads)
    for cue in rules.consecutive_cues:
        check_labels("alerts consecutive_cues", rules.cue_head, cue.labels, heads)
    for ladder in rules.ladders:
        check_labels("alerts ladders", ladder.head, ladder.order, heads)
    if rules.priority_at_or_above is not None and rules.priority_at_or_above not in priority_levels:
        raise ValueError(
            f"alerts priority_at_or_above {rules.priority_at_or_above!r} is not one of {priority_levels}"
        )
    return rules


@dataclass(frozen=True)
class TurnOutcome:
    """What one customer turn produced: its own cue label and the call-level result so far."""

    cue_label: str
    labels: Mapping[str, str]
    scores: Mapping[str, Mapping[str, float]]
    priority: str


def _score(outcome: TurnOutcome | None, head: str, labels: Sequence[str]) -> float:
    if outcome is None:
        return 0.0
    head_scores = outcome.scores.get(head, {})
    return sum(head_scores.get(label, 0.0) for label in labels)


def _rung(outcome: TurnOutcome, ladder: Ladder) -> int:
    label = outcome.labels.get(ladder.head)
    return ladder.order.index(label) if label in ladder.order else 0


def _trail(outcomes: Sequence[TurnOutcome], ladder: Ladder) -> list[str]:
    trail = [ladder.order[0]]
    for outcome in outcomes:
        label = outcome.labels.get(ladder.head, "")
        if label in ladder.order and trail[-1] != label:
            trail.append(label)
    return trail


def detect_alert(
    history: Sequence[TurnOutcome], current: TurnOutcome, rules: AlertRules
) -> list[AlertTrigger]:
    """Triggers fired by ``current`` given the call's earlier customer turns ``history`` (oldest first)."""
    previous = history[-1] if history else None
    triggers: list[AlertTrigger] = []

    for crossing in rules.score_crossings:
        before = _score(previous, crossing.head, crossing.labels)
        now = _score(current, crossing.head, crossing.labels)
        if before < crossing.threshold <= now:
            triggers.append(
                AlertTrigger(
                    kind="score_crossing",
                    head=crossing.head,
                    message=f"{crossing.head} {'/'.join(crossing.labels)} score rose to {now:.2f}, "
                    f"crossing {crossing.threshold:.2f} (was {before:.2f})",
                )
            )

    for cue in rules.consecutive_cues:
        recent = [*history[-(cue.turns - 1) :], current] if cue.turns > 1 else [current]
        streak = len(recent) == cue.turns and all(o.cue_label in cue.labels for o in recent)
        longer = len(history) >= cue.turns and history[-cue.turns].cue_label in cue.labels
        if streak and not longer:
            triggers.append(
                AlertTrigger(
                    kind="consecutive_cue",
                    head=rules.cue_head,
                    message=f"{rules.cue_head} cue {current.cue_label} "
                    f"on {cue.turns} consecutive customer turns",
                )
            )

    for ladder in rules.ladders:
        highest = max((_rung(o, ladder) for o in history), default=0)
        if _rung(current, ladder) > highest:
            trail = "→".join(_trail([*history, current], ladder))
            triggers.append(
                AlertTrigger(kind="ladder", head=ladder.head, message=f"{ladder.head} moved {trail}")
            )

    if rules.priority_at_or_above is not None:
        levels = rules.priority_levels
        lowest = len(levels) - 1
        before_rank = levels.index(previous.priority) if previous and previous.priority in levels else lowest
        now_rank = levels.index(current.priority) if current.priority in levels else lowest
        if now_rank < before_rank and now_rank <= levels.index(rules.priority_at_or_above):
            triggers.append(
                AlertTrigger(
                    kind="priority",
                    head=None,
                    message=f"priority rose to {current.priority} (was {levels[before_rank]})",
                )
            )
    return triggers
