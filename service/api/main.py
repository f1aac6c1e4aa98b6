"""The API router: every route, with the API-key check where it applies."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import ApiKeyDep
from service.api.routes import classify, feedback, model, ops, stream

api_router = APIRouter()
api_router.include_router(ops.router)
api_router.include_router(classify.router, dependencies=[ApiKeyDep])
api_router.include_router(feedback.router, dependencies=[ApiKeyDep])
api_router.include_router(model.router, dependencies=[ApiKeyDep])
# The socket checks its key itself: a WebSocket gets an error message, not an HTTP 401.
api_router.include_router(stream.router)
