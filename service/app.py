"""The FastAPI application factory; the model is loaded by the lifespan, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import __version__
from service.api.body import BodyLimitMiddleware
from service.api.main import api_router
from service.config import Settings
from service.errors import install_error_handlers
from service.metrics import Metrics, MetricsMiddleware
from service.runtime import Runtime


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime: Runtime = app.state.runtime
    await runtime.start()
    try:
        yield
    finally:
        await runtime.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Builds the app; nothing heavy happens until its lifespan starts.

    Args:
        settings: service settings; read from ``KESU_*`` environment variables when omitted.
    """
    settings = settings or Settings()
    metrics = Metrics()
    app = FastAPI(
        title="kesu",
        version=__version__,
        description="Chinese customer-complaint classification (five heads, routing, live-call alerts).",
        lifespan=lifespan,
    )
    app.state.runtime = Runtime(settings, metrics)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(api_router)
    return app
