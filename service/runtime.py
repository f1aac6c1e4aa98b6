"""What an app instance holds while it runs: settings, metrics, the model once loaded, stores.

The model loads in a background task started by the app's lifespan, so
``/healthz`` answers at once and ``/readyz`` says 503 until the model is in.
"""

from __future__ import annotations

import asyncio
import logging

from service.batching import MicroBatcher
from service.cases import ModelInput
from service.config import Settings
from service.engine import Engine
from service.feedback import FeedbackStore
from service.metrics import Metrics
from service.predictor import Prediction
from service.stream import CallStore, LiveCalls

logger = logging.getLogger(__name__)


class Runtime:
    """State of one running app; ``engine`` and friends are None until the model is loaded."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.engine: Engine | None = None
        self.batcher: MicroBatcher[ModelInput, Prediction] | None = None
        self.live_calls: LiveCalls | None = None
        self.feedback: FeedbackStore | None = None
        self.load_error: str | None = None
        self._load_task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self.live_calls is not None

    async def start(self) -> None:
        """Opens the feedback store and starts loading the model in the background."""
        self.feedback = FeedbackStore(self.settings.feedback_db)
        self._load_task = asyncio.create_task(self._load(), name="kesu-load-model")

    async def _load(self) -> None:
        settings = self.settings
        try:
            engine = await asyncio.to_thread(Engine.load, settings)
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            logger.exception("could not load the model")
            return
        batcher: MicroBatcher[ModelInput, Prediction] = MicroBatcher(
            engine.predict,
            max_batch_size=settings.micro_batch_max_size,
            max_wait_ms=settings.micro_batch_max_wait_ms,
            enabled=settings.micro_batching,
            on_batch=self.metrics.batch_size.observe,
        )
        await batcher.start()
        calls = CallStore(settings.stream_max_calls, settings.stream_idle_seconds)
        self.engine, self.batcher = engine, batcher
        self.live_calls = LiveCalls(
            engine, batcher, calls, self.metrics, settings.max_text_chars, settings.log_text
        )
        logger.info("ready: model version %s", engine.version.name)

    async def stop(self) -> None:
        if self._load_task is not None:
            self._load_task.cancel()
            await asyncio.gather(self._load_task, return_exceptions=True)
        if self.batcher is not None:
            await self.batcher.stop()
        if self.feedback is not None:
            self.feedback.close()
        self.engine = self.batcher = self.live_calls = self.feedback = None
