"""Service benchmark (a script, not a test): HTTP latency and throughput, with and without micro-batching.

Starts ``kesu serve`` as a subprocess on a free loopback port for each mode, then
measures single-request latency with one client at a time (p50/p99) and
throughput with many concurrent closed-loop clients. Only loopback traffic, and a
bounded number of requests. Client and server share the machine's cores, so the
figures compare modes on one machine rather than give absolute capacity.

    python -m eval.bench_service --model models/<version> --output reports/bench_service.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
SAMPLE_TEXTS = [
    "快递五天了还没到",
    "客服也不回消息，太慢了",
    "我想退货，请问怎么操作",
    "收到的杯子是碎的，包装也破了，要求换货",
    "你们的会员自动续费扣了我两次钱，我要投诉到12315，必须今天给我退回来！！",
    "这个衣服和图片上完全不一样，颜色差太多了，说好的纯棉结果是化纤的，感觉被骗了",
    "谢谢客服，问题解决了，很满意",
    "为什么我的账户昨天晚上有一笔不是我本人操作的消费？我已经第三次打电话了，每次都说会回电，"
    "到现在也没有人联系我，如果今天还不处理我就去银保监会投诉，顺便发微博曝光你们。",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    model: Path, port: int, micro_batching: bool, threads: int, workdir: Path
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "service.cli", "--log-level", "WARNING", "serve",
        "--host", HOST, "--port", str(port), "--model", str(model.resolve()), "--threads", str(threads),
        "--feedback-db", str(workdir / "feedback.db"),
    ]  # fmt: skip
    if not micro_batching:
        command.append("--no-micro-batching")
    return subprocess.Popen(command)


async def wait_ready(client: httpx.AsyncClient, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("server did not become ready")


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": float(np.percentile(samples_ms, 50)),
        "p99_ms": float(np.percentile(samples_ms, 99)),
        "n": len(samples_ms),
    }


async def timed_post(client: httpx.AsyncClient, text: str) -> float:
    started = time.perf_counter()
    response = await client.post("/v1/classify", json={"text": text})
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


async def sequential(client: httpx.AsyncClient, texts: list[str], n: int) -> dict[str, float]:
    return percentiles([await timed_post(client, texts[i % len(texts)]) for i in range(n)])


async def concurrent(client: httpx.AsyncClient, texts: list[str], n: int, clients: int) -> dict[str, float]:
    samples: list[float] = []
    per_client = max(1, n // clients)

    async def worker(offset: int) -> None:
        for i in range(per_client):
            samples.append(await timed_post(client, texts[(offset + i) % len(texts)]))

    started = time.perf_counter()
    await asyncio.gather(*(worker(c * 7) for c in range(clients)))
    elapsed = time.perf_counter() - started
    return {**percentiles(samples), "requests_per_s": len(samples) / elapsed, "clients": clients}


def mean_batch_size(metrics_text: str) -> float | None:
    found = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^kesu_model_batch_size_(sum|count) ([0-9.e+]+)$", metrics_text, re.MULTILINE)
    }
    return found["sum"] / found["count"] if found.get("count") else None


async def measure(port: int, texts: list[str], requests: int, clients: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", limits=limits, timeout=60) as client:
        await wait_ready(client)
        await sequential(client, texts, 20)  # warm-up
        single = await sequential(client, texts, requests)
        loaded = await concurrent(client, texts, requests, clients)
        batch = mean_batch_size((await client.get("/metrics")).text)
    return {"single": single, "concurrent": loaded, "mean_model_batch": batch}


def bench(model: Path, requests: int, clients: int, threads: int, seed: int = 0) -> dict[str, Any]:
    """Runs both modes against ``model``; returns the figures per mode."""
    texts = SAMPLE_TEXTS[:]
    random.Random(seed).shuffle(texts)
    results: dict[str, Any] = {"model": str(model), "requests": requests, "clients": clients, "modes": {}}
    for mode, micro_batching in (("micro_batching", True), ("no_batching", False)):
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix="kesu-bench-"))
        server = start_server(model, port, micro_batching, threads, workdir)
        try:
            logger.info("benchmarking %s on port %d", mode, port)
            results["modes"][mode] = asyncio.run(measure(port, texts, requests, clients))
        finally:
            server.terminate()
            server.wait(timeout=30)
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def render(results: dict[str, Any]) -> str:
    lines = [
        f"Service benchmark: {results['model']} ({results['requests']} requests per phase, "
        f"{results['clients']} concurrent clients)",
        "",
        "| mode | idle p50 ms | idle p99 ms | loaded p50 ms | loaded p99 ms | req/s | mean model batch |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, r in results["modes"].items():
        single, loaded = r["single"], r["concurrent"]
        batch = f"{r['mean_model_batch']:.1f}" if r["mean_model_batch"] is not None else "-"
        lines.append(
            f"| {mode} | {single['p50_ms']:.1f} | {single['p99_ms']:.1f} | {loaded['p50_ms']:.1f} | "
            f"{loaded['p99_ms']:.1f} | {loaded['requests_per_s']:.0f} | {batch} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", type=Path, required=True, help="model version folder")
    parser.add_argument(
        "--requests", type=int, default=400, help="requests per phase (bounded: at most 5000)"
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients in the throughput phase")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads of the server")
    parser.add_argument("--output", type=Path, default=Path("reports/bench_service.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the table
    if not args.model.is_dir():
        parser.error(f"model version folder not found: {args.model}")
    results = bench(args.model, min(args.requests, 5000), args.clients, args.threads)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
