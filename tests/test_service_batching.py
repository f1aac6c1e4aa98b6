from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from service.batching import MicroBatcher
from service.model_version import load_model_version
from service.predictor import Predictor


class Recorder:
    """A fake model: doubles numbers, records the batches it ran, optionally slowly."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay
        self.threads: set[str] = set()

    def __call__(self, inputs: Sequence[int]) -> list[int]:
        self.threads.add(threading.current_thread().name)
        self.batches.append(list(inputs))
        time.sleep(self.delay)
        return [2 * x for x in inputs]


In = TypeVar("In")
Out = TypeVar("Out")


async def run_with(batcher: MicroBatcher[In, Out], requests: list[list[In]]) -> list[list[Out]]:
    await batcher.start()
    try:
        return await asyncio.gather(*(batcher.submit(r) for r in requests))
    finally:
        await batcher.stop()


def test_concurrent_requests_get_their_own_results_in_order() -> None:
    model = Recorder(delay=0.01)
    batcher = MicroBatcher(model, max_batch_size=8, max_wait_ms=20)
    requests = [[i, 100 + i] for i in range(20)]
    results = asyncio.run(run_with(batcher, requests))
    assert results == [[2 * a, 2 * b] for a, b in requests]


def test_a_burst_is_batched() -> None:
    model = Recorder(delay=0.02)
    sizes: list[int] = []
    batcher = MicroBatcher(model, max_batch_size=16, max_wait_ms=20, on_batch=sizes.append)
    asyncio.run(run_with(batcher, [[i] for i in range(32)]))
    assert sum(sizes) == 32
    assert len(model.batches) < 32 / 2  # far fewer model runs than requests
    assert max(len(b) for b in model.batches) > 1
    assert all(len(b) <= 16 for b in model.batches)
    assert model.threads == {"kesu-infer_0"}  # one inference thread, off the event loop


def test_an_idle_request_does_not_wait_for_the_window() -> None:
    async def scenario() -> float:
        batcher = MicroBatcher(Recorder(), max_batch_size=32, max_wait_ms=2000)
        await batcher.start()
        try:
            started = time.perf_counter()
            assert await batcher.submit([1]) == [2]
            return time.perf_counter() - started
        finally:
            await batcher.stop()

    assert asyncio.run(scenario()) < 0.5


def test_a_request_larger_than_the_batch_runs_alone_and_whole() -> None:
    model = Recorder()
    batcher = MicroBatcher(model, max_batch_size=4, max_wait_ms=5)
    results = asyncio.run(run_with(batcher, [list(range(10)), [7]]))
    assert results == [[2 * x for x in range(10)], [14]]
    assert list(range(10)) in model.batches


def test_disabled_runs_each_request_on_its_own() -> None:
    model = Recorder(delay=0.005)
    batcher = MicroBatcher(model, max_batch_size=16, max_wait_ms=20, enabled=False)
    results = asyncio.run(run_with(batcher, [[i] for i in range(6)]))
    assert results == [[2 * i] for i in range(6)]
    assert sorted(model.batches) == [[i] for i in range(6)]


def test_a_failing_batch_fails_its_requests_and_the_batcher_goes_on() -> None:
    calls = 0

    def flaky(inputs: Sequence[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("model exploded")
        return list(inputs)

    async def scenario() -> list[int]:
        batcher = MicroBatcher(flaky, max_batch_size=4, max_wait_ms=1)
        await batcher.start()
        try:
            with pytest.raises(RuntimeError, match="exploded"):
                await batcher.submit([1])
            return await batcher.submit([5])
        finally:
            await batcher.stop()

    assert asyncio.run(scenario()) == [5]


def test_real_model_results_identical_to_unbatched(tiny_model_version: Path) -> None:
    version = load_model_version(tiny_model_version)
    if not version.onnx_path("fp32").is_file():
        pytest.skip("version ships no fp32 graph")
    # fp32: the int8 graph quantizes activations per batch, so it is batch-invariant only approximately.
    predictor = Predictor(version, precision="fp32", intra_op_threads=1)
    inputs = [(f"快递{'还没到' * (i % 7)}第{i}天", False) for i in range(24)]
    expected = [predictor.predict([item])[0] for item in inputs]
    batcher = MicroBatcher(predictor.predict, max_batch_size=8, max_wait_ms=10)
    got = [r[0] for r in asyncio.run(run_with(batcher, [[item] for item in inputs]))]
    for want, have in zip(expected, got, strict=True):
        for head in want:
            assert have[head].label == want[head].label
            assert have[head].scores == pytest.approx(want[head].scores, abs=1e-5)
