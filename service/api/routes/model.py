"""``GET /v1/model``: the loaded version, its labels, thresholds, routing and evaluation figures."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.deps import EngineDep
from service.api.responses import ERROR_RESPONSES
from service.schemas import ModelInfo

router = APIRouter(prefix="/v1", tags=["model"])


@router.get("/model", response_model=ModelInfo, responses=ERROR_RESPONSES)
def model_info(engine: EngineDep) -> dict[str, Any]:
    """Describes the model version being served."""
    return engine.info()
