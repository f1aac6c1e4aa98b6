"""A loaded model version ready to classify: predictor, routing table, alert rules, result format."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from service.alerts import AlertRules, parse_alert_rules
from service.cases import ModelInput
from service.config import Settings
from service.model_version import ModelVersion, load_model_version, resolve_version_path
from service.predictor import HeadPrediction, Prediction, Predictor
from service.routing import RoutingTable, default_routing, routing_source

logger = logging.getLogger(__name__)


def head_result(prediction: HeadPrediction) -> dict[str, Any]:
    return {"label": prediction.label, "score": prediction.score, "scores": prediction.scores}


class Engine:
    """Classifies model inputs and formats results as docs/API.md describes."""

    def __init__(self, predictor: Predictor, routing: RoutingTable, alerts: AlertRules) -> None:
        self.predictor = predictor
        self.routing = routing
        self.alerts = alerts

    @property
    def version(self) -> ModelVersion:
        return self.predictor.version

    @classmethod
    def load(cls, settings: Settings) -> Engine:
        """Loads the version the settings name (or ``models/DEFAULT``); raises naming what is wrong."""
        path = resolve_version_path(settings.models_dir, settings.model_version)
        version = load_model_version(path)
        raw_routing, source = routing_source(version, settings.routing_file)
        routing = RoutingTable.from_dict(raw_routing, version.heads)
        alerts = parse_alert_rules(
            raw_routing.get("alerts") or default_routing()["alerts"], version.heads, routing.priority_levels
        )
        predictor = Predictor(version, settings.precision, settings.intra_op_threads)
        logger.info(
            "loaded model version %s (%s) from %s; routing from %s",
            version.name,
            settings.precision,
            path,
            source,
        )
        return cls(predictor, routing, alerts)

    def predict(self, inputs: Sequence[ModelInput]) -> list[Prediction]:
        return self.predictor.predict(inputs)

    def result(self, prediction: Prediction, case_id: str | None) -> dict[str, Any]:
        """One API result: echoed id, model version, each head, and routing."""
        out: dict[str, Any] = {"id": case_id, "model_version": self.version.name}
        out.update({head: head_result(p) for head, p in prediction.items()})
        out["routing"] = self.routing.route({head: p.label for head, p in prediction.items()})
        return out

    def info(self) -> dict[str, Any]:
        """What ``GET /v1/model`` reports."""
        version = self.version
        return {
            "version": version.name,
            "precision": self.predictor.precision,
            "max_length": version.max_length,
            "heads": version.heads,
            "thresholds": {
                head: {"positive": list(t.positive), "threshold": t.threshold}
                for head, t in version.thresholds.items()
            },
            "metrics": version.metrics,
            # Scalars only: nested training config can be large and is in the folder anyway.
            "manifest": {
                k: v for k, v in version.manifest.items() if isinstance(v, str | int | float | bool)
            },
            "routing": self.routing.config.model_dump(),
        }
