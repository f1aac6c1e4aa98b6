"""Double annotation: a blind sample across every batch, and agreement with the first labels.

``python -m training.corpus.double draw`` writes ``double/pool_*.jsonl`` (cases without
labels) for second annotators; ``python -m training.corpus.double agree`` prints Cohen's
kappa per head and writes the disagreements for review.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

from training.corpus.build import ANNOTATION_DIR, CASE_FIELDS, labeled_real_cases, written_cases
from training.corpus.checks import cohen_kappa
from training.corpus.dataset import read_jsonl, write_jsonl
from training.corpus.schema import load_label_schema

DOUBLE_DIR = "double"
REAL_PER_BATCH = 35
WRITTEN_PER_BATCH = 15
SHARDS = 2


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
    rng.shuffle(sample)
    out = annotation_dir / DOUBLE_DIR
    paths = []
    for shard in range(SHARDS):
        path = out / f"pool_{shard}.jsonl"
        write_jsonl(path, sample[shard::SHARDS])
        paths.append(path)
    return paths


def agreement(annotation_dir: Path) -> dict[str, Any]:
    """Kappa per head between first and second annotation, with the disagreeing cases."""
    heads = list(load_label_schema())
    first = first_labels(annotation_dir)
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for path in sorted((annotation_dir / DOUBLE_DIR).glob("labels_*.jsonl")):
        for row in read_jsonl(path):
            pairs.append((first[row["id"]], row))
    result: dict[str, Any] = {"n": len(pairs), "kappa": {}, "raw_agreement": {}, "disagreements": []}
    for head in heads:
        a = [f["labels"][head] for f, _ in pairs]
        b = [s[head] for _, s in pairs]
        result["kappa"][head] = cohen_kappa(a, b)
        result["raw_agreement"][head] = sum(x == y for x, y in zip(a, b, strict=True)) / max(len(a), 1)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=("draw", "agree"))
    parser.add_argument("--annotations", type=Path, default=ANNOTATION_DIR)
    args = parser.parse_args(argv)
    if args.action == "draw":
        for path in draw(args.annotations):
            sys.stdout.write(f"{path}\n")
        return 0
    result = agreement(args.annotations)
    (args.annotations / DOUBLE_DIR / "agreement.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    sys.stdout.write(json.dumps({k: result[k] for k in ("n", "kappa", "raw_agreement")}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
