"""Gathers concurrent requests into micro-batches run on one inference thread.

Requests queue up while the model is busy and go together into the next run, so
throughput rises under load. An idle request is not held back: a window of
``max_wait_ms`` to collect more is only opened when the queue already held
other requests or the previous batch had several requests (a burst is on).
Within a batch the predictor groups texts by length, so short texts are not
padded to long ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class _Job(Generic[In, Out]):
    inputs: Sequence[In]
    future: asyncio.Future[list[Out]] = field(repr=False)


class MicroBatcher(Generic[In, Out]):
    """Runs ``run_batch`` on merged inputs of concurrent ``submit`` calls.

    Args:
        run_batch: blocking function from inputs to outputs in the same order.
        max_batch_size: most inputs per run (a single larger request runs alone).
        max_wait_ms: how long to hold a batch open for more requests under load.
        enabled: when False each request runs on its own (same thread, no merging).
        on_batch: called with the number of inputs of each run (metrics).
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[In]], list[Out]],
        max_batch_size: int = 32,
        max_wait_ms: float = 4.0,
        enabled: bool = True,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.enabled = enabled
        self.on_batch = on_batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kesu-infer")
        self._jobs: deque[_Job[In, Out]] = deque()
        self._wakeup = asyncio.Event()
        self._collector: asyncio.Task[None] | None = None
        self._last_batch_jobs = 0

    async def start(self) -> None:
        if self.enabled and self._collector is None:
            self._collector = asyncio.create_task(self._collect(), name="kesu-micro-batcher")

    async def stop(self) -> None:
        if self._collector is not None:
            self._collector.cancel()
            await asyncio.gather(self._collector, return_exceptions=True)
            self._collector = None
        self._fail(list(self._jobs), RuntimeError("service is shutting down"))
        self._jobs.clear()
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def submit(self, inputs: Sequence[In]) -> list[Out]:
        """Outputs for ``inputs``, in order, computed together with other concurrent requests."""
        if not inputs:
            return []
        loop = asyncio.get_running_loop()
        if self._collector is None:
            self._observe(len(inputs))
            return await loop.run_in_executor(self._executor, self.run_batch, inputs)
        job: _Job[In, Out] = _Job(inputs=inputs, future=loop.create_future())
        self._jobs.append(job)
        self._wakeup.set()
        return await job.future

    def _observe(self, size: int) -> None:
        if self.on_batch is not None:
            self.on_batch(size)

    @staticmethod
    def _fail(jobs: Sequence[_Job[In, Out]], exc: BaseException) -> None:
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(exc)

    def _take(self, jobs: list[_Job[In, Out]], size: int) -> tuple[int, bool]:
        """Moves queued jobs into ``jobs`` while they fit; returns the input count and whether it is full."""
        while self._jobs:
            if jobs and size + len(self._jobs[0].inputs) > self.max_batch_size:
                return size, True
            job = self._jobs.popleft()
            jobs.append(job)
            size += len(job.inputs)
        return size, size >= self.max_batch_size

    async def _wait_for_jobs(self, timeout: float | None) -> bool:
        if self._jobs:
            return True
        self._wakeup.clear()
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wait_for_jobs(None)
            jobs: list[_Job[In, Out]] = []
            size, full = self._take(jobs, 0)
            # Hold the batch open only during a burst; an idle request goes at once.
            if len(jobs) > 1 or self._last_batch_jobs > 1:
                deadline = loop.time() + self.max_wait
                while not full and (remaining := deadline - loop.time()) > 0:
                    if not await self._wait_for_jobs(remaining):
                        break
                    size, full = self._take(jobs, size)
            await self._dispatch(jobs)

    async def _dispatch(self, jobs: list[_Job[In, Out]]) -> None:
        """Runs one batch on the inference thread and resolves each job's future with its slice."""
        live = [job for job in jobs if not job.future.cancelled()]
        self._last_batch_jobs = len(live)
        if not live:
            return
        merged = [item for job in live for item in job.inputs]
        self._observe(len(merged))
        started = time.perf_counter()
        try:
            outputs = await asyncio.get_running_loop().run_in_executor(self._executor, self.run_batch, merged)
        except asyncio.CancelledError:
            self._fail(live, RuntimeError("service is shutting down"))
            raise
        except Exception as exc:  # a failing batch fails its requests, not the collector
            logger.exception("inference failed for a batch of %d inputs", len(merged))
            self._fail(live, exc)
            return
        logger.debug(
            "ran %d jobs / %d inputs in %.1f ms",
            len(live),
            len(merged),
            1e3 * (time.perf_counter() - started),
        )
        offset = 0
        for job in live:
            if not job.future.done():
                job.future.set_result(outputs[offset : offset + len(job.inputs)])
            offset += len(job.inputs)
