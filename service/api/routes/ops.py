"""Probes and metrics: ``/healthz`` and ``/readyz`` are open, ``/metrics`` needs the API key if one is set."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.api.deps import ApiKeyDep, MetricsDep, RuntimeDep, not_ready
from service.errors import ErrorBody
from service.schemas import HealthOut

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process is up (the model may still be loading)."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=HealthOut, responses={503: {"model": ErrorBody}})
def readyz(runtime: RuntimeDep) -> HealthOut:
    """The model is loaded and requests can be served."""
    if runtime.engine is None or not runtime.ready:
        raise not_ready(runtime)
    return HealthOut(status="ready", model_version=runtime.engine.version.name)


@router.get("/metrics", dependencies=[ApiKeyDep], response_class=Response)
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus metrics."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
