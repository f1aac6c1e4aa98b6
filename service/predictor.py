"""Runs a version's ONNX graph: tokenize, bucket by length, run, softmax, apply thresholds.

Everything about heads and labels comes from the version folder; the graph takes
``input_ids`` and ``attention_mask`` (int64, [batch, seq]) and returns one
``logits_<head>`` output ([batch, n_labels]) per head in ``labels.json`` order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from service.cases import ModelInput
from service.encoding import CaseEncoder, EncodedBatch
from service.model_version import INPUT_NAMES, LOGITS_PREFIX, TOKENIZER_FILE, HeadThreshold, ModelVersion

logger = logging.getLogger(__name__)

# Rows are padded only up to the bucket they fall in, so short texts do not pay for long ones.
BUCKET_WIDTHS = (16, 32, 64, 128, 256, 512)
MAX_RUN_BATCH = 64


@dataclass(frozen=True)
class HeadPrediction:
    label: str
    score: float
    scores: dict[str, float]


Prediction = dict[str, HeadPrediction]


class HeadDecoder:
    """Turns one head's probabilities into labels, with the head's threshold if it has one."""

    def __init__(self, labels: Sequence[str], threshold: HeadThreshold | None) -> None:
        self.labels = list(labels)
        self.threshold = threshold
        if threshold is not None:
            self.positive = np.array([self.labels.index(label) for label in threshold.positive])
            self.negative = np.array(
                [i for i in range(len(self.labels)) if i not in set(self.positive.tolist())]
            )

    def choose(self, probs: np.ndarray) -> np.ndarray:
        """Index of the chosen label for each row of ``probs`` [batch, n_labels]."""
        if self.threshold is None or len(self.negative) == 0:
            return np.asarray(probs.argmax(axis=1))
        positive = probs[:, self.positive]
        best_positive = self.positive[positive.argmax(axis=1)]
        best_negative = self.negative[probs[:, self.negative].argmax(axis=1)]
        return np.where(positive.sum(axis=1) >= self.threshold.threshold, best_positive, best_negative)

    def decode(self, probs: np.ndarray) -> list[HeadPrediction]:
        chosen = self.choose(probs)
        rows = probs.tolist()
        return [
            HeadPrediction(
                label=self.labels[int(c)], score=row[int(c)], scores=dict(zip(self.labels, row, strict=True))
            )
            for c, row in zip(chosen, rows, strict=True)
        ]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def bucket_width(length: int) -> int:
    return next((w for w in BUCKET_WIDTHS if length <= w), length)


def bucketed_probabilities(
    encoder: CaseEncoder,
    inputs: Sequence[ModelInput],
    run: Callable[[EncodedBatch], list[np.ndarray]],
    label_counts: Sequence[int],
    max_run_batch: int,
) -> list[np.ndarray]:
    """Probabilities per head [n_inputs, n_labels] in input order, from ``run`` on length buckets.

    Rows are grouped by token length and run in chunks of at most ``max_run_batch``; the
    benchmark gives torch the same batches through this function, so runtimes compare fairly.
    """
    probs = [np.zeros((len(inputs), n)) for n in label_counts]
    content = encoder.content_ids([text for text, _ in inputs])
    buckets: dict[int, list[int]] = {}
    for i, ids in enumerate(content):
        buckets.setdefault(bucket_width(min(len(ids), encoder.content_budget) + 2), []).append(i)
    for width in sorted(buckets):
        members = buckets[width]
        for start in range(0, len(members), max_run_batch):
            chunk = members[start : start + max_run_batch]
            batch = encoder.pack([content[i] for i in chunk], [inputs[i][1] for i in chunk])
            for head_probs, chunk_probs in zip(probs, run(batch), strict=True):
                head_probs[chunk] = chunk_probs
    return probs


class Predictor:
    """Classifies model input strings with a version's ONNX graph and fast tokenizer."""

    def __init__(
        self,
        version: ModelVersion,
        precision: str = "int8",
        intra_op_threads: int = 0,
        max_run_batch: int = MAX_RUN_BATCH,
    ) -> None:
        graph = version.onnx_path(precision)
        if not graph.is_file():
            raise FileNotFoundError(f"model version {version.path} has no {precision} graph {graph.name}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.encoder = CaseEncoder.from_file(version.path / TOKENIZER_FILE, version.max_length)
        self.version = version
        self.precision = precision
        self.max_run_batch = max_run_batch
        self.heads = version.heads
        self.output_names = [LOGITS_PREFIX + head for head in self.heads]
        self.decoders = {
            head: HeadDecoder(labels, version.thresholds.get(head)) for head, labels in self.heads.items()
        }
        self._check_graph()

    def _check_graph(self) -> None:
        inputs = {i.name for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        missing = [n for n in INPUT_NAMES if n not in inputs] + [
            n for n in self.output_names if n not in outputs
        ]
        if missing:
            raise ValueError(f"ONNX graph of {self.version.path} lacks {missing}")
        probe = self._run(self.encoder.encode(["ok"]))
        for head, probs in zip(self.heads, probe, strict=True):
            if probs.shape[1] != len(self.heads[head]):
                raise ValueError(
                    f"graph output {LOGITS_PREFIX}{head} has {probs.shape[1]} labels; "
                    f"labels.json lists {len(self.heads[head])}"
                )

    def _run(self, batch: EncodedBatch) -> list[np.ndarray]:
        feeds = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
        return [softmax(logits) for logits in self.session.run(self.output_names, feeds)]

    def probabilities(self, inputs: Sequence[ModelInput]) -> dict[str, np.ndarray]:
        """Softmax probabilities per head, [n_inputs, n_labels] in input order."""
        label_counts = [len(labels) for labels in self.heads.values()]
        probs = bucketed_probabilities(self.encoder, inputs, self._run, label_counts, self.max_run_batch)
        return dict(zip(self.heads, probs, strict=True))

    def predict(self, inputs: Sequence[ModelInput]) -> list[Prediction]:
        """Predictions in input order, thresholds applied."""
        if not inputs:
            return []
        decoded = {head: self.decoders[head].decode(p) for head, p in self.probabilities(inputs).items()}
        return [{head: decoded[head][i] for head in self.heads} for i in range(len(inputs))]
