"""``kesu bench``: one model as torch fp32, ONNX fp32 and ONNX int8, in one process.

Single-text latency (p50/p99) for short (≤ 30 chars), typical (≤ 128) and long (≤ 512)
texts, and throughput at batch 32, with the ratios between runtimes.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from service.cases import ModelInput, case_to_text
from service.model_version import load_model_version
from service.predictor import MAX_RUN_BATCH, Predictor, bucketed_probabilities
from training.corpus.dataset import read_jsonl

logger = logging.getLogger(__name__)

LENGTH_CLASSES = {"short": (1, 30), "typical": (31, 128), "long": (129, 512)}
THROUGHPUT_BATCH = 32

Runner = Callable[[Sequence[ModelInput]], object]


def texts_by_length(data: Path, seed: int = 0, per_class: int = 64) -> dict[str, list[ModelInput]]:
    """Real corpus inputs per length class; long ones are built by joining cases up to 512 chars."""
    inputs = [case_to_text(r) for r in read_jsonl(data)]
    rng = random.Random(seed)
    rng.shuffle(inputs)
    out: dict[str, list[ModelInput]] = {}
    for name, (lo, hi) in LENGTH_CLASSES.items():
        out[name] = [x for x in inputs if lo <= len(x[0]) <= hi][:per_class]
    # Long inputs can be joined from shorter ones; short and typical ones must be real.
    missing = [
        f"{name} ({lo}-{hi} chars)"
        for name, (lo, hi) in LENGTH_CLASSES.items()
        if name != "long" and not out[name]
    ]
    if missing:
        raise ValueError(f"benchmark data {data} has no cases of length {', '.join(missing)}")
    while len(out["long"]) < per_class:
        joined = ""
        while len(joined) < 300:
            joined += rng.choice(inputs)[0]
        out["long"].append((joined[:512], False))
    return out


def latency_ms(run: Runner, inputs: Sequence[ModelInput], repeats: int) -> dict[str, float]:
    for x in inputs[:3]:
        run([x])  # warm-up
    samples = []
    for i in range(repeats):
        x = inputs[i % len(inputs)]
        start = time.perf_counter()
        run([x])
        samples.append((time.perf_counter() - start) * 1000)
    return {
        "p50_ms": float(np.percentile(samples, 50)),
        "p99_ms": float(np.percentile(samples, 99)),
        "n": repeats,
    }


def throughput(run: Runner, inputs: Sequence[ModelInput], batches: int) -> float:
    batch = [inputs[i % len(inputs)] for i in range(THROUGHPUT_BATCH)]
    run(batch)
    start = time.perf_counter()
    for _ in range(batches):
        run(batch)
    return THROUGHPUT_BATCH * batches / (time.perf_counter() - start)


def torch_runner(checkpoint: Path, max_length: int) -> Runner:
    """The torch checkpoint behind the service's own length bucketing, so only the runtime differs."""
    import torch

    from service.encoding import CaseEncoder, EncodedBatch
    from training.model import MultiHeadClassifier

    model = MultiHeadClassifier.load(checkpoint)
    encoder = CaseEncoder.from_file(checkpoint / "tokenizer.json", max_length)
    label_counts = [len(labels) for labels in model.head_labels.values()]

    def forward(batch: EncodedBatch) -> list[np.ndarray]:
        with torch.inference_mode():
            logits = model(torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask))
            return [torch.softmax(x, -1).numpy() for x in logits]

    def run(inputs: Sequence[ModelInput]) -> object:
        return bucketed_probabilities(encoder, inputs, forward, label_counts, MAX_RUN_BATCH)

    return run


def bench(
    model_dir: Path, data: Path, checkpoint: Path | None, repeats: int = 100, batches: int = 5
) -> dict[str, Any]:
    """Measures every runtime available for ``model_dir`` (torch needs ``checkpoint``)."""
    for name, value in (("repeats", repeats), ("batches", batches)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    version = load_model_version(model_dir)
    inputs = texts_by_length(data)
    runners: dict[str, Runner] = {}
    if checkpoint is not None:
        runners["torch_fp32"] = torch_runner(checkpoint, version.max_length)
    for precision in ("fp32", "int8"):
        if version.onnx_path(precision).is_file():
            runners[f"onnx_{precision}"] = Predictor(version, precision=precision).probabilities
        else:
            logger.warning("%s has no %s graph; skipping it", model_dir, precision)
    results: dict[str, Any] = {"model": version.name, "runtimes": {}}
    for name, run in runners.items():
        logger.info("benchmarking %s", name)
        results["runtimes"][name] = {
            "latency": {cls: latency_ms(run, texts, repeats) for cls, texts in inputs.items()},
            "throughput_batch32_per_s": throughput(run, inputs["typical"], batches),
        }
    rt = results["runtimes"]
    if "torch_fp32" in rt:
        base = rt["torch_fp32"]["throughput_batch32_per_s"]
        results["throughput_ratio_vs_torch_fp32"] = {
            k: v["throughput_batch32_per_s"] / base for k, v in rt.items()
        }
    return results


def render_bench(results: dict[str, Any]) -> str:
    lines = [
        f"Model `{results['model']}`; single-text latency in ms (p50 / p99),"
        " throughput in texts/s at batch 32.",
        "",
        "| runtime | short p50/p99 | typical p50/p99 | long p50/p99 | throughput | × torch fp32 |",
        "|---|---|---|---|---|---|",
    ]
    ratios = results.get("throughput_ratio_vs_torch_fp32", {})
    for name, r in results["runtimes"].items():
        cells = [f"{r['latency'][c]['p50_ms']:.1f} / {r['latency'][c]['p99_ms']:.1f}" for c in LENGTH_CLASSES]
        ratio = f"{ratios[name]:.2f}" if name in ratios else "–"
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {r['throughput_batch32_per_s']:.1f} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def write_bench(results: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    out.with_suffix(".md").write_text(render_bench(results), encoding="utf-8")
