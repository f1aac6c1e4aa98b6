"""The live-call alert rules as a pure function over constructed per-turn results."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from service.alerts import AlertRules, TurnOutcome, detect_alert, parse_alert_rules
from service.routing import default_routing

HEADS = {
    "dissatisfaction": ["explicit", "implicit", "none"],
    "emotion": ["anger", "anxiety", "neutral"],
    "escalation_risk": ["yes", "no"],
}
LEVELS = ["P1", "P2", "P3", "P4"]


@pytest.fixture
def rules() -> AlertRules:
    return parse_alert_rules(default_routing()["alerts"], HEADS, LEVELS)


def turn(
    cue: str = "neutral", dissatisfaction: str = "none", risk: float = 0.1, priority: str = "P4"
) -> TurnOutcome:
    return TurnOutcome(
        cue_label=cue,
        labels={"dissatisfaction": dissatisfaction, "escalation_risk": "yes" if risk >= 0.5 else "no"},
        scores={"escalation_risk": {"yes": risk, "no": 1 - risk}},
        priority=priority,
    )


def kinds(history: Sequence[TurnOutcome], current: TurnOutcome, rules: AlertRules) -> list[str]:
    return [t.kind for t in detect_alert(history, current, rules)]


def test_calm_call_raises_nothing(rules: AlertRules) -> None:
    history = [turn(), turn()]
    assert detect_alert(history, turn(), rules) == []


def test_escalation_score_crossing_the_threshold(rules: AlertRules) -> None:
    triggers = detect_alert([turn(risk=0.2)], turn(risk=0.7), rules)
    assert [t.kind for t in triggers] == ["score_crossing"]
    assert triggers[0].head == "escalation_risk"
    assert "0.70" in triggers[0].message and "0.50" in triggers[0].message


def test_score_staying_high_does_not_repeat(rules: AlertRules) -> None:
    assert "score_crossing" not in kinds([turn(risk=0.6)], turn(risk=0.8), rules)


def test_high_score_on_the_first_turn_counts_as_a_rise(rules: AlertRules) -> None:
    assert "score_crossing" in kinds([], turn(risk=0.9), rules)


def test_anger_cue_on_two_consecutive_customer_turns(rules: AlertRules) -> None:
    assert kinds([turn(cue="neutral")], turn(cue="anger"), rules) == []
    triggers = detect_alert([turn(cue="neutral"), turn(cue="anger")], turn(cue="anger"), rules)
    assert [t.kind for t in triggers] == ["consecutive_cue"]
    assert "anger" in triggers[0].message and "2" in triggers[0].message


def test_consecutive_cue_fires_once_per_streak(rules: AlertRules) -> None:
    assert "consecutive_cue" not in kinds([turn(cue="anger"), turn(cue="anger")], turn(cue="anger"), rules)
    history = [turn(cue="anger"), turn(cue="anger"), turn(cue="neutral"), turn(cue="anger")]
    assert "consecutive_cue" in kinds(history, turn(cue="anger"), rules)


def test_dissatisfaction_ladder_reports_its_path(rules: AlertRules) -> None:
    history = [turn(dissatisfaction="none"), turn(dissatisfaction="implicit")]
    triggers = detect_alert(history, turn(dissatisfaction="explicit"), rules)
    assert [t.kind for t in triggers] == ["ladder"]
    assert triggers[0].message == "dissatisfaction moved none→implicit→explicit"


def test_ladder_does_not_fire_on_a_return_to_an_earlier_height(rules: AlertRules) -> None:
    history = [turn(dissatisfaction="implicit"), turn(dissatisfaction="none")]
    assert "ladder" not in kinds(history, turn(dissatisfaction="implicit"), rules)


def test_priority_rising_to_p1(rules: AlertRules) -> None:
    triggers = detect_alert([turn(priority="P3")], turn(priority="P1"), rules)
    assert [t.kind for t in triggers] == ["priority"]
    assert triggers[0].message == "priority rose to P1 (was P3)"
    assert "priority" not in kinds([turn(priority="P3")], turn(priority="P2"), rules)
    assert "priority" not in kinds([turn(priority="P1")], turn(priority="P1"), rules)


def test_several_triggers_at_once(rules: AlertRules) -> None:
    history = [turn(cue="anger", dissatisfaction="implicit", risk=0.3, priority="P3")]
    current = turn(cue="anger", dissatisfaction="explicit", risk=0.9, priority="P1")
    assert sorted(kinds(history, current, rules)) == [
        "consecutive_cue",
        "ladder",
        "priority",
        "score_crossing",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cue_head": "mood"}, "unknown head 'mood'"),
        ({"consecutive_cues": [{"labels": ["rage"], "turns": 2}]}, "rage"),
        ({"ladders": [{"head": "dissatisfaction", "order": ["none", "severe"]}]}, "severe"),
        (
            {"score_crossings": [{"head": "escalation_risk", "labels": ["yes"], "threshold": 1.5}]},
            "threshold",
        ),
        ({"priority_at_or_above": "P0"}, "P0"),
    ],
)
def test_invalid_alert_rules_are_rejected(change: dict[str, object], message: str) -> None:
    raw = default_routing()["alerts"] | change
    with pytest.raises(ValueError, match=message):
        parse_alert_rules(raw, HEADS, LEVELS)
