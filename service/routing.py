"""Department, priority and SLA hours derived from the predicted labels, driven by ``routing.json``.

The table (schema_version 1)::

    {
      "schema_version": 1,
      "department": {"head": "category", "map": {label: department}, "default": department},
      "priority": {
        "levels": ["P1", ..., "P4"],            # most urgent first
        "rules": [                              # first matching rule wins
          {"priority": "P1",
           "any": [{"head": "urgency", "labels": ["high"]}, ...],   # at least one holds
           "all": [...]}                                            # every one holds
        ],
        "default": "P4"
      },
      "sla": {"head": "urgency",
              "map": {label: {"response_hours": h, "resolution_hours": h}},
              "default": {"response_hours": h, "resolution_hours": h}},
      "alerts": {...}                           # live-call alert rules, see service.alerts
    }

It ships in each model version folder; the ``routing_file`` setting overrides it,
and ``service/routing_default.json`` (the LABELING.md rules) is the fallback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from service.model_version import ROUTING_FILE, ModelVersion, read_json

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DEFAULT_ROUTING_RESOURCE = "routing_default.json"


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    head: str
    labels: list[str] = Field(min_length=1)

    def holds(self, labels: Mapping[str, str]) -> bool:
        return labels.get(self.head) in self.labels


class PriorityRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: str
    any: list[Condition] = Field(default_factory=list)
    all: list[Condition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_conditions(self) -> PriorityRule:
        if not self.any and not self.all:
            raise ValueError(f"rule for {self.priority!r} has no conditions")
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(c.holds(labels) for c in self.all) and (
            not self.any or any(c.holds(labels) for c in self.any)
        )


class DepartmentTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    head: str
    map: dict[str, str]
    default: str


class PriorityTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    levels: list[str] = Field(min_length=1)
    rules: list[PriorityRule]
    default: str


class Sla(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response_hours: int | float = Field(ge=0)
    resolution_hours: int | float = Field(ge=0)


class SlaTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    head: str
    map: dict[str, Sla]
    default: Sla


class RoutingConfig(BaseModel):
    """The parsed routing table; ``alerts`` stays raw here and is parsed by ``service.alerts``."""

    schema_version: int = SCHEMA_VERSION
    department: DepartmentTable
    priority: PriorityTable
    sla: SlaTable
    alerts: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _known_levels(self) -> RoutingConfig:
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {self.schema_version} is not supported (expected {SCHEMA_VERSION})"
            )
        levels = self.priority.levels
        for priority in [self.priority.default, *(r.priority for r in self.priority.rules)]:
            if priority not in levels:
                raise ValueError(f"priority {priority!r} is not one of the levels {levels}")
        return self


def check_labels(where: str, head: str, labels: list[str], heads: Mapping[str, list[str]]) -> None:
    """Raises ``ValueError`` when a table names a head or label the model version does not have."""
    if head not in heads:
        raise ValueError(f"{where} names unknown head {head!r}; heads are {list(heads)}")
    unknown = [label for label in labels if label not in heads[head]]
    if unknown:
        raise ValueError(f"{where} names unknown {head} labels {unknown}; allowed {heads[head]}")


class RoutingTable:
    """Routes a case from its labels; checked against the version's heads on creation."""

    def __init__(self, config: RoutingConfig, heads: Mapping[str, list[str]]) -> None:
        check_labels("routing department", config.department.head, list(config.department.map), heads)
        check_labels("routing sla", config.sla.head, list(config.sla.map), heads)
        for i, rule in enumerate(config.priority.rules):
            for condition in [*rule.any, *rule.all]:
                check_labels(f"routing priority rule {i}", condition.head, condition.labels, heads)
        self.config = config

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], heads: Mapping[str, list[str]]) -> RoutingTable:
        try:
            config = RoutingConfig.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"invalid routing table: {exc}") from exc
        return cls(config, heads)

    @property
    def priority_levels(self) -> list[str]:
        return self.config.priority.levels

    def route(self, labels: Mapping[str, str]) -> dict[str, Any]:
        """The ``routing`` object of a result, from the predicted label of each head."""
        department = self.config.department
        priority = next(
            (rule.priority for rule in self.config.priority.rules if rule.matches(labels)),
            self.config.priority.default,
        )
        sla_label = labels.get(self.config.sla.head, "")
        sla = self.config.sla.map.get(sla_label, self.config.sla.default)
        return {
            "department": department.map.get(labels.get(department.head, ""), department.default),
            "priority": priority,
            "response_sla_hours": sla.response_hours,
            "resolution_sla_hours": sla.resolution_hours,
        }


def default_routing() -> dict[str, Any]:
    """The routing table of LABELING.md, as written into a version folder's ``routing.json`` at export."""
    text = resources.files("service").joinpath(DEFAULT_ROUTING_RESOURCE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def routing_source(version: ModelVersion, override: Path | None) -> tuple[dict[str, Any], str]:
    """The raw routing table to use and where it came from: override file, version folder, or default."""
    if override is not None:
        return read_json(override), str(override)
    if version.routing:
        return dict(version.routing), str(version.path / ROUTING_FILE)
    logger.warning("model version %s has no routing.json; using the service default", version.name)
    return default_routing(), DEFAULT_ROUTING_RESOURCE
