"""Double annotation: blind samples for second annotators, and agreement with the labels.

``python -m training.corpus.double draw`` writes ``double/pool_*.jsonl`` (cases without
labels) for second annotators; ``python -m training.corpus.double agree`` prints Cohen's
kappa per head and writes the disagreements for review. Round 1 sampled every annotation
batch and is compared with the first labels. A later round (``--round N``, files under
``double/round_N/``) samples the built corpus, leaving out cases an earlier round read, and
is compared with the corpus labels, corrections applied: it measures the corpus as trained on.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from training.corpus.build import ANNOTATION_DIR, CASE_FIELDS, CORPUS_DIR, labeled_real_cases, written_cases
from training.corpus.checks import cohen_kappa
from training.corpus.dataset import SPLITS, read_jsonl, write_jsonl
from training.corpus.schema import load_label_schema
from training.metrics import confusion_matrix, macro_f1, per_class_prf

DOUBLE_DIR = "double"
REAL_PER_BATCH = 35
WRITTEN_PER_BATCH = 15
SHARDS = 2
LATER_ROUND_SIZE = 300


def round_dir(annotation_dir: Path, round_number: int) -> Path:
    double = annotation_dir / DOUBLE_DIR
    return double if round_number == 1 else double / f"round_{round_number}"


def corpus_labels(corpus_dir: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for split in SPLITS for r in read_jsonl(corpus_dir / f"{split}.jsonl")}


def first_labels(annotation_dir: Path) -> dict[str, dict[str, Any]]:
    heads = list(load_label_schema())
    return {r["id"]: r for r in labeled_real_cases(annotation_dir, heads) + written_cases(annotation_dir)}


def draw(annotation_dir: Path, seed: int = 11) -> list[Path]:
    """Samples evenly from every real and written batch, strips labels, writes ``SHARDS`` pool files."""
    rng = random.Random(seed)
    sample: list[dict[str, Any]] = []
    for label_file in sorted((annotation_dir / "labels").glob("*.jsonl")):
        ids = [row["id"] for row in read_jsonl(label_file)]
        pool = {c["id"]: c for c in read_jsonl(annotation_dir / "pool" / label_file.name)}
        sample += [pool[i] for i in rng.sample(ids, min(REAL_PER_BATCH, len(ids)))]
    for path in sorted((annotation_dir / "written").glob("*.jsonl")):
        rows = list(read_jsonl(path))
        chosen = rng.sample(rows, min(WRITTEN_PER_BATCH, len(rows)))
        sample += [{k: r[k] for k in CASE_FIELDS if k in r} for r in chosen]
    return write_shards(sample, annotation_dir / DOUBLE_DIR, rng)


def draw_later_round(
    annotation_dir: Path, corpus_dir: Path, round_number: int, size: int = LATER_ROUND_SIZE, seed: int = 11
) -> list[Path]:
    """Samples ``size`` corpus cases no earlier round read, strips labels, writes ``SHARDS`` pool files."""
    if round_number < 2:
        raise ValueError(f"a later round is numbered 2 or more, got {round_number}")
    out = round_dir(annotation_dir, round_number)
    if any(out.glob("pool_*.jsonl")):
        raise ValueError(f"{out} already holds a drawn round: a blind sample is never redrawn")
    read_before = {
        row["id"]
        for earlier in range(1, round_number)
        for path in round_dir(annotation_dir, earlier).glob("pool_*.jsonl")
        for row in read_jsonl(path)
    }
    candidates = [r for i, r in sorted(corpus_labels(corpus_dir).items()) if i not in read_before]
    rng = random.Random(seed + round_number)
    chosen = rng.sample(candidates, min(size, len(candidates)))
    return write_shards([{k: r[k] for k in CASE_FIELDS if k in r} for r in chosen], out, rng)


def write_shards(sample: list[dict[str, Any]], out: Path, rng: random.Random) -> list[Path]:
    rng.shuffle(sample)
    paths = []
    for shard in range(SHARDS):
        path = out / f"pool_{shard}.jsonl"
        write_jsonl(path, sample[shard::SHARDS])
        paths.append(path)
    return paths


def agreement(annotation_dir: Path, corpus_dir: Path = CORPUS_DIR, round_number: int = 1) -> dict[str, Any]:
    """Kappa per head between the reference labels and a second annotation, with the disagreeing cases.

    Round 1 is compared with the first labels, a later round with the corpus labels.
    """
    schema = load_label_schema()
    heads = list(schema)
    first = first_labels(annotation_dir) if round_number == 1 else corpus_labels(corpus_dir)
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for path in sorted(round_dir(annotation_dir, round_number).glob("labels_*.jsonl")):
        for row in read_jsonl(path):
            pairs.append((first[row["id"]], row))
    result: dict[str, Any] = {"n": len(pairs), "kappa": {}, "raw_agreement": {}, "macro_f1": {}}
    for head, labels in schema.items():
        a = [f["labels"][head] for f, _ in pairs]
        b = [s[head] for _, s in pairs]
        result["kappa"][head] = cohen_kappa(a, b)
        result["raw_agreement"][head] = sum(x == y for x, y in zip(a, b, strict=True)) / max(len(a), 1)
        # The second annotator scored like a model against the reference: a ceiling for the model's figures.
        index = {label: i for i, label in enumerate(labels)}
        gold, second = (np.array([index[x] for x in column]) for column in (a, b))
        result["macro_f1"][head] = macro_f1(gold, second, len(labels))
    result["dissatisfaction_binary_f1"] = positive_f1(pairs, "dissatisfaction", lambda v: v != "none")
    result["escalation_yes_f1"] = positive_f1(pairs, "escalation_risk", lambda v: v == "yes")
    result["disagreements"] = []
    for f, s in pairs:
        differing = {h: [f["labels"][h], s[h]] for h in heads if f["labels"][h] != s[h]}
        if differing:
            case = f.get("text") or " | ".join(f"{t['role']}: {t['text']}" for t in f["dialogue"])
            result["disagreements"].append(
                {
                    "id": f["id"],
                    "case": case,
                    "first_vs_second": differing,
                    "first_note": f.get("note", ""),
                    "second_note": s.get("note", ""),
                }
            )
    return result


def positive_f1(
    pairs: list[tuple[dict[str, Any], dict[str, Any]]], head: str, positive: Callable[[str], bool]
) -> float:
    gold = np.array([positive(f["labels"][head]) for f, _ in pairs], dtype=np.int64)
    second = np.array([positive(s[head]) for _, s in pairs], dtype=np.int64)
    _, _, f1 = per_class_prf(confusion_matrix(gold, second, 2))
    return float(f1[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=("draw", "agree"))
    parser.add_argument("--annotations", type=Path, default=ANNOTATION_DIR)
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--round", type=int, default=1, help="1: every batch vs first labels; 2+: corpus")
    args = parser.parse_args(argv)
    if args.round < 1:
        parser.error(f"--round must be 1 or more, got {args.round}")
    if args.action == "draw":
        try:
            paths = (
                draw(args.annotations)
                if args.round == 1
                else draw_later_round(args.annotations, args.corpus, args.round)
            )
        except ValueError as err:
            parser.error(str(err))
        sys.stdout.write("".join(f"{path}\n" for path in paths))
        return 0
    result = agreement(args.annotations, args.corpus, args.round)
    (round_dir(args.annotations, args.round) / "agreement.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    summary = {k: v for k, v in result.items() if k != "disagreements"}
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
