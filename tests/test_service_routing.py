from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from service.model_version import load_model_version
from service.routing import RoutingTable, default_routing, routing_source

# The heads of docs/LABELING.md, which the default table is written for.
HEADS = {
    "dissatisfaction": ["explicit", "implicit", "none"],
    "category": [
        "product_quality",
        "service_attitude",
        "logistics",
        "after_sales",
        "billing",
        "misleading_info",
        "privacy_security",
        "other",
    ],
    "urgency": ["high", "medium", "low"],
    "emotion": ["anger", "anxiety", "disappointment", "confusion", "neutral", "satisfaction"],
    "escalation_risk": ["yes", "no"],
}


def labels(**overrides: str) -> dict[str, str]:
    base = {
        "dissatisfaction": "none",
        "category": "other",
        "urgency": "low",
        "emotion": "neutral",
        "escalation_risk": "no",
    }
    return base | overrides


@pytest.fixture
def table() -> RoutingTable:
    return RoutingTable.from_dict(default_routing(), HEADS)


@pytest.mark.parametrize(
    ("case", "priority"),
    [
        (labels(urgency="high"), "P1"),
        (labels(escalation_risk="yes"), "P1"),
        (labels(escalation_risk="yes", dissatisfaction="none", urgency="low"), "P1"),
        (labels(dissatisfaction="explicit"), "P2"),
        (labels(urgency="medium"), "P2"),
        (labels(dissatisfaction="explicit", urgency="high"), "P1"),
        (labels(dissatisfaction="implicit"), "P3"),
        (labels(dissatisfaction="implicit", urgency="medium"), "P2"),
        (labels(), "P4"),
    ],
)
def test_priority_follows_labeling_md(table: RoutingTable, case: dict[str, str], priority: str) -> None:
    assert table.route(case)["priority"] == priority


@pytest.mark.parametrize(
    ("category", "department"),
    [
        ("product_quality", "质量/生产"),
        ("service_attitude", "客服/运营"),
        ("logistics", "物流"),
        ("after_sales", "售后"),
        ("billing", "财务/计费"),
        ("misleading_info", "市场/合规"),
        ("privacy_security", "信息安全/风控"),
        ("other", "客服中心"),
    ],
)
def test_department_by_category(table: RoutingTable, category: str, department: str) -> None:
    assert table.route(labels(category=category))["department"] == department


@pytest.mark.parametrize(
    ("urgency", "response", "resolution"), [("high", 1, 24), ("medium", 24, 48), ("low", 24, 72)]
)
def test_sla_hours_by_urgency(table: RoutingTable, urgency: str, response: int, resolution: int) -> None:
    routing = table.route(labels(urgency=urgency))
    assert (routing["response_sla_hours"], routing["resolution_sla_hours"]) == (response, resolution)


def test_result_routing_has_api_fields(table: RoutingTable) -> None:
    assert set(table.route(labels())) == {
        "department",
        "priority",
        "response_sla_hours",
        "resolution_sla_hours",
    }


def test_all_rules_are_data_and_can_require_every_condition() -> None:
    raw = default_routing()
    raw["priority"]["rules"] = [
        {
            "priority": "P1",
            "all": [{"head": "urgency", "labels": ["high"]}, {"head": "category", "labels": ["billing"]}],
        }
    ]
    table = RoutingTable.from_dict(raw, HEADS)
    assert table.route(labels(urgency="high", category="billing"))["priority"] == "P1"
    assert table.route(labels(urgency="high"))["priority"] == "P4"


def mutate(path: str, value: Any) -> dict[str, Any]:
    raw = default_routing()
    node: Any = raw
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = value
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (mutate("department.head", "topic"), "unknown head 'topic'"),
        (mutate("department.map", {"shipping": "物流"}), "unknown category labels ['shipping']"),
        (
            mutate("sla.map", {"urgent": {"response_hours": 1, "resolution_hours": 2}}),
            "unknown urgency labels",
        ),
        (
            mutate("priority.rules", [{"priority": "P0", "any": [{"head": "urgency", "labels": ["high"]}]}]),
            "P0",
        ),
        (mutate("priority.rules", [{"priority": "P1"}]), "no conditions"),
        (mutate("priority.default", "P9"), "P9"),
        (mutate("schema_version", 2), "schema_version"),
    ],
)
def test_invalid_tables_are_rejected_with_a_reason(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        RoutingTable.from_dict(raw, HEADS)


def test_default_routing_is_a_fresh_copy() -> None:
    first = default_routing()
    first["department"]["default"] = "changed"
    assert default_routing()["department"]["default"] == "客服中心"
    assert json.loads(json.dumps(first)) == first  # plain JSON, ready to write into a version folder


def test_routing_source_prefers_override_then_version_then_default(tmp_path: Path) -> None:
    version = tmp_path / "v1"
    version.mkdir()
    (version / "manifest.json").write_text('{"version": "v1"}')
    (version / "labels.json").write_text(
        json.dumps({"heads": [{"name": k, "labels": v} for k, v in HEADS.items()]})
    )
    (version / "tokenizer.json").write_text("{}")
    loaded = load_model_version(version)
    assert routing_source(loaded, None) == (default_routing(), "routing_default.json")

    in_version = copy.deepcopy(default_routing())
    in_version["department"]["default"] = "版本"
    (version / "routing.json").write_text(json.dumps(in_version, ensure_ascii=False))
    raw, source = routing_source(load_model_version(version), None)
    assert raw["department"]["default"] == "版本" and source.endswith("routing.json")

    override = tmp_path / "ops.json"
    in_version["department"]["default"] = "运维"
    override.write_text(json.dumps(in_version, ensure_ascii=False))
    raw, source = routing_source(load_model_version(version), override)
    assert raw["department"]["default"] == "运维" and source == str(override)
