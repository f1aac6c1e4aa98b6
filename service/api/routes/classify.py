"""``POST /v1/classify`` and ``POST /v1/classify/batch``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from service.api.body import Utf8BodyRoute
from service.api.deps import BatcherDep, EngineDep, MetricsDep, SettingsDep
from service.api.responses import ERROR_RESPONSES
from service.errors import ApiError
from service.privacy import loggable_text
from service.schemas import BatchRequest, BatchResponse, CaseIn, ClassifyResult

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["classify"], route_class=Utf8BodyRoute)


@router.post("/classify", response_model=ClassifyResult, responses=ERROR_RESPONSES)
async def classify(
    case: CaseIn, engine: EngineDep, batcher: BatcherDep, settings: SettingsDep, metrics: MetricsDep
) -> dict[str, Any]:
    """Classifies one case."""
    case.check_limits(settings.max_text_chars)
    model_input = case.to_input()
    logger.debug("classify id=%s text=%s", case.id, loggable_text(model_input[0], settings.log_text))
    [prediction] = await batcher.submit([model_input])
    metrics.classified.labels("classify").inc()
    return engine.result(prediction, case.id)


@router.post("/classify/batch", response_model=BatchResponse, responses=ERROR_RESPONSES)
async def classify_batch(
    body: BatchRequest, engine: EngineDep, batcher: BatcherDep, settings: SettingsDep, metrics: MetricsDep
) -> dict[str, Any]:
    """Classifies up to ``max_batch_items`` cases; results come in the order of ``items``."""
    if len(body.items) > settings.max_batch_items:
        raise ApiError(
            422,
            "too_many_items",
            f"at most {settings.max_batch_items} items per batch, got {len(body.items)}",
            "items",
        )
    for i, item in enumerate(body.items):
        item.check_limits(settings.max_text_chars, prefix=f"items.{i}.")
    predictions = await batcher.submit([item.to_input() for item in body.items])
    metrics.classified.labels("classify_batch").inc(len(body.items))
    return {"results": [engine.result(p, item.id) for p, item in zip(predictions, body.items, strict=True)]}
