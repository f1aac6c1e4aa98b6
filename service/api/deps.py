"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.requests import HTTPConnection

from service.auth import API_KEY_HEADER, is_authorized, presented_key
from service.batching import MicroBatcher
from service.cases import ModelInput
from service.config import Settings
from service.engine import Engine
from service.errors import ApiError
from service.feedback import FeedbackStore
from service.metrics import Metrics
from service.predictor import Prediction
from service.runtime import Runtime

# Declared for the OpenAPI docs; the check itself reads the headers in ``require_api_key``.
api_key_scheme = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)
bearer_scheme = HTTPBearer(auto_error=False)


def get_runtime(conn: HTTPConnection) -> Runtime:
    runtime: Runtime = conn.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


def get_metrics(runtime: RuntimeDep) -> Metrics:
    return runtime.metrics


def not_ready(runtime: Runtime) -> ApiError:
    reason = f"model failed to load: {runtime.load_error}" if runtime.load_error else "model is loading"
    return ApiError(503, "not_ready", reason)


def get_engine(runtime: RuntimeDep) -> Engine:
    if runtime.engine is None:
        raise not_ready(runtime)
    return runtime.engine


def get_batcher(runtime: RuntimeDep) -> MicroBatcher[ModelInput, Prediction]:
    if runtime.batcher is None:
        raise not_ready(runtime)
    return runtime.batcher


def get_feedback_store(runtime: RuntimeDep) -> FeedbackStore:
    if runtime.feedback is None:
        raise ApiError(503, "not_ready", "feedback store is not open")
    return runtime.feedback


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
EngineDep = Annotated[Engine, Depends(get_engine)]
BatcherDep = Annotated[MicroBatcher[ModelInput, Prediction], Depends(get_batcher)]
FeedbackStoreDep = Annotated[FeedbackStore, Depends(get_feedback_store)]


def require_api_key(
    conn: HTTPConnection,
    settings: SettingsDep,
    _header: Annotated[str | None, Security(api_key_scheme)],
    _bearer: Annotated[object, Security(bearer_scheme)],
) -> None:
    if not is_authorized(settings.api_key, presented_key(conn.headers)):
        raise ApiError(401, "unauthorized", f"missing or wrong API key ({API_KEY_HEADER} or Bearer token)")


ApiKeyDep = Depends(require_api_key)
