"""Prometheus metrics of one app instance (own registry, so several apps can live in one process)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """The service's counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kesu_requests",
            "HTTP requests by endpoint and status.",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kesu_request_latency_seconds",
            "HTTP request latency by endpoint.",
            ["method", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "kesu_model_batch_size",
            "Texts per model run (after micro-batching).",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.classified = Counter(
            "kesu_cases_classified", "Cases classified.", ["endpoint"], registry=self.registry
        )
        self.stream_messages = Counter(
            "kesu_stream_messages", "Live-call messages by kind.", ["kind"], registry=self.registry
        )
        self.stream_alerts = Counter(
            "kesu_stream_alerts", "Live-call alert triggers by kind.", ["kind"], registry=self.registry
        )
        self.stream_calls = Gauge(
            "kesu_stream_active_calls", "Live calls held in memory.", registry=self.registry
        )
        self.stream_connections = Gauge(
            "kesu_stream_connections", "Open live-call WebSockets.", registry=self.registry
        )
        self.feedback = Counter("kesu_feedback_stored", "Feedback records stored.", registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times HTTP requests, labelled by route template (not raw path) to bound cardinality."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            self.metrics.requests.labels(method, endpoint, str(status)).inc()
            self.metrics.latency.labels(method, endpoint).observe(time.perf_counter() - started)
