"""Corpus quality checks: schema, reserved utterances, duplicates, split leakage, coverage, agreement.

``corpus_report`` gathers every figure the data card quotes; the CI tests assert on it.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from service.cases import case_to_text
from training.corpus.reserved import normalize_utterance
from training.corpus.schema import record_problems
from training.corpus.sources import case_turn_texts

NEAR_DUPLICATE_COSINE = 0.9
MIN_CASES = 8000
MIN_REAL = 4000
MIN_WRITTEN = 3000
MIN_DIALOGUES = 800
MIN_LABEL_COUNT = 150


def is_real(record: dict[str, Any]) -> bool:
    return record.get("source") != "written"


def is_counted_dialogue(record: dict[str, Any]) -> bool:
    return bool(record.get("dialogue")) and 2 <= len(record["dialogue"]) <= 10


def reserved_hits(records: Sequence[dict[str, Any]], reserved: frozenset[str]) -> list[str]:
    """Ids of real cases with a turn in the reserved list (written cases are ours and exempt)."""
    return [
        r["id"]
        for r in records
        if is_real(r) and any(normalize_utterance(t) in reserved for t in case_turn_texts(r))
    ]


def exact_duplicates(records: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    pairs = []
    for r in records:
        key = normalize_utterance(case_to_text(r)[0])
        if key in seen:
            pairs.append((seen[key], r["id"]))
        else:
            seen[key] = r["id"]
    return pairs


def fold_width(text: str) -> str:
    # Full- and half-width punctuation and letters are the same text to a reader.
    return unicodedata.normalize("NFKC", text).lower()


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = NEAR_DUPLICATE_COSINE
) -> list[tuple[int, int, float]]:
    """Index pairs whose character 2–4-gram TF-IDF cosine reaches ``threshold``."""
    if len(texts) < 2:
        return []
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(2, 4), preprocessor=fold_width)
    matrix = vectorizer.fit_transform(texts)
    pairs = []
    block = 2000
    for start in range(0, matrix.shape[0], block):
        sims = (matrix[start : start + block] @ matrix.T).tocoo()
        for i, j, v in zip(sims.row, sims.col, sims.data, strict=True):
            if start + i < j and v >= threshold:
                pairs.append((int(start + i), int(j), float(v)))
    return pairs


def label_counts(
    records: Sequence[dict[str, Any]], schema: dict[str, list[str]]
) -> dict[str, dict[str, int]]:
    counts = {h: Counter(r["labels"].get(h) for r in records) for h in schema}
    return {h: {label: counts[h].get(label, 0) for label in labels} for h, labels in schema.items()}


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float:
    labels = sorted(set(first) | set(second))
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)))
    for a, b in zip(first, second, strict=True):
        matrix[index[a], index[b]] += 1
    total = matrix.sum()
    observed = np.trace(matrix) / total
    expected = float((matrix.sum(axis=0) * matrix.sum(axis=1)).sum()) / total**2
    return 1.0 if expected == 1.0 else float((observed - expected) / (1 - expected))


def corpus_report(
    splits: dict[str, list[dict[str, Any]]], schema: dict[str, list[str]], reserved: frozenset[str]
) -> dict[str, Any]:
    """Every check's findings and every count, for the tests and the data card."""
    records = [r for rows in splits.values() for r in rows]
    split_of = {r["id"]: s for s, rows in splits.items() for r in rows}
    texts = [case_to_text(r)[0] for r in records]
    near = near_duplicate_pairs(texts)
    group_splits: dict[str, set[str]] = {}
    for r in records:
        group_splits.setdefault(r.get("group", r["id"]), set()).add(split_of[r["id"]])
    return {
        "problems": {
            r["id"]: p for r in records if (p := record_problems(r, schema, require_all_heads=True))
        },
        "reserved_hits": reserved_hits(records, reserved),
        "duplicate_ids": [i for i, n in Counter(r["id"] for r in records).items() if n > 1],
        "exact_duplicates": exact_duplicates(records),
        "near_duplicates_within_split": sum(
            split_of[records[i]["id"]] == split_of[records[j]["id"]] for i, j, _ in near
        ),
        "near_duplicates_across_splits": [
            (records[i]["id"], records[j]["id"], round(v, 3))
            for i, j, v in near
            if split_of[records[i]["id"]] != split_of[records[j]["id"]]
        ],
        "groups_straddling_splits": sorted(g for g, s in group_splits.items() if len(s) > 1),
        "total": len(records),
        "real": sum(is_real(r) for r in records),
        "written": sum(not is_real(r) for r in records),
        "dialogues_2_to_10_turns": sum(is_counted_dialogue(r) for r in records),
        "split_sizes": {s: len(rows) for s, rows in splits.items()},
        "sources": dict(Counter(r.get("source", "") for r in records).most_common()),
        "industries": dict(Counter(r.get("industry", "e-commerce/reviews") for r in records).most_common()),
        "label_counts": label_counts(records, schema),
        "label_counts_by_split": {s: label_counts(rows, schema) for s, rows in splits.items()},
    }


def requirement_failures(report: dict[str, Any]) -> list[str]:
    """The corpus requirements the report does not meet (empty when all are met)."""
    failures = []
    for key in (
        "problems",
        "reserved_hits",
        "duplicate_ids",
        "exact_duplicates",
        "near_duplicates_across_splits",
        "groups_straddling_splits",
    ):
        if report[key]:
            failures.append(f"{key}: {len(report[key])}, e.g. {list(report[key])[:3]}")
    minimums = {
        "total": MIN_CASES,
        "real": MIN_REAL,
        "written": MIN_WRITTEN,
        "dialogues_2_to_10_turns": MIN_DIALOGUES,
    }
    failures += [f"{k} = {report[k]} < {v}" for k, v in minimums.items() if report[k] < v]
    for head, counts in report["label_counts"].items():
        failures += [
            f"{head}={label} appears {n} < {MIN_LABEL_COUNT} times"
            for label, n in counts.items()
            if n < MIN_LABEL_COUNT
        ]
    return failures
