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
from pathlib import Path
from typing import Any

import numpy as np

from training.corpus.build import ANNOTATION_DIR, CASE_FIELDS, CORPUS_DIR, labeled_real_cases, written_cases
from training.corpus.checks import cohen_kappa
from training.corpus.dataset import SPLITS, read_jsonl, write_round_robin
from training.corpus.schema import load_label_schema
from training.metrics import binary_report, macro_f1

DOUBLE_DIR = "double"
REAL_PER_BATCH = 35
WRITTEN_PER_BATCH = 15
SHARDS = 2
LATER_ROUND_SIZE = 300
FIRST_LABELS = "first labels, before the clarifications"
CORPUS_LABELS = "corpus labels, corrections applied"


def round_dir(annotation_dir: Path, round_number: int) -> Path:
    double = annotation_dir / DOUBLE_DIR
    return double if round_number == 1 else double / f"round_{round_number}"


def drawn_rounds(annotation_dir: Path) -> list[int]:
    """Numbers of the rounds whose pool files exist, in order."""
    later = [int(p.name.split("_")[1]) for p in (annotation_dir / DOUBLE_DIR).glob("round_*") if p.is_dir()]
    first = [1] if any(round_dir(annotation_dir, 1).glob("pool_*.jsonl")) else []
    return first + sorted(n for n in later if any(round_dir(annotation_dir, n).glob("pool_*.jsonl")))


def corpus_labels(corpus_dir: Path) -> dict[str, dict[str, Any]]:
    missing = [s for s in SPLITS if not (corpus_dir / f"{s}.jsonl").is_file()]
    if missing:
        raise ValueError(
            f"{corpus_dir} lacks {', '.join(f'{s}.jsonl' for s in missing)}: build the corpus first"
        )
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
    return write_shards(sample, round_dir(annotation_dir, 1), rng)


def draw_later_round(
    annotation_dir: Path, corpus_dir: Path, round_number: int, size: int = LATER_ROUND_SIZE, seed: int = 11
) -> list[Path]:
    """Samples ``size`` corpus cases no earlier round read, strips labels, writes ``SHARDS`` pool files."""
    if round_number < 2:
        raise ValueError(f"a later round is numbered 2 or more, got {round_number}")
    earlier = range(1, round_number)
    undrawn = [n for n in earlier if n not in drawn_rounds(annotation_dir)]
    if undrawn:
        raise ValueError(f"round {round_number} needs rounds {list(earlier)} drawn first; missing {undrawn}")
    read_before = {
        row["id"]
        for n in earlier
        for path in round_dir(annotation_dir, n).glob("pool_*.jsonl")
        for row in read_jsonl(path)
    }
    candidates = [r for i, r in sorted(corpus_labels(corpus_dir).items()) if i not in read_before]
    if len(candidates) < size:
        raise ValueError(f"only {len(candidates)} corpus cases were never read in a round; asked for {size}")
    rng = random.Random(seed + round_number)
    chosen = rng.sample(candidates, size)
    return write_shards(
        [{k: r[k] for k in CASE_FIELDS if k in r} for r in chosen],
        round_dir(annotation_dir, round_number),
        rng,
    )


def write_shards(sample: list[dict[str, Any]], out: Path, rng: random.Random) -> list[Path]:
    if any(out.glob("pool_*.jsonl")):
        raise ValueError(f"{out} already holds a drawn round: a blind sample is never redrawn")
    rng.shuffle(sample)
    paths = [out / f"pool_{shard}.jsonl" for shard in range(SHARDS)]
    write_round_robin(sample, paths)
    return paths


def second_labels(
    folder: Path, reference: dict[str, dict[str, Any]], schema: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The second annotators' rows, each checked against the reference ids and the label schema."""
    paths = sorted(folder.glob("labels_*.jsonl"))
    if not paths:
        raise ValueError(f"no labels_*.jsonl under {folder}: the round has no second labels yet")
    rows = []
    for path in paths:
        for row in read_jsonl(path):
            if row.get("id") not in reference:
                raise ValueError(f"{path.name}: id {row.get('id')!r} is not a case of the reference labels")
            for head, labels in schema.items():
                if row.get(head) not in labels:
                    raise ValueError(
                        f"{path.name}: {row['id']} has {head}={row.get(head)!r}; allowed: {labels}"
                    )
            rows.append(row)
    return rows


def agreement(annotation_dir: Path, corpus_dir: Path = CORPUS_DIR, round_number: int = 1) -> dict[str, Any]:
    """Kappa per head between the reference labels and a second annotation, with the disagreeing cases.

    Round 1 is compared with the first labels, a later round with the corpus labels. The second
    annotator is also scored as a model would be, which gives a ceiling for the model's figures.
    """
    schema = load_label_schema()
    reference = first_labels(annotation_dir) if round_number == 1 else corpus_labels(corpus_dir)
    seconds = second_labels(round_dir(annotation_dir, round_number), reference, schema)
    pairs = [(reference[row["id"]], row) for row in seconds]
    result: dict[str, Any] = {
        "round": round_number,
        "reference": FIRST_LABELS if round_number == 1 else CORPUS_LABELS,
        "n": len(pairs),
        "kappa": {},
        "raw_agreement": {},
        "macro_f1": {},
    }
    columns = {head: ([f["labels"][head] for f, _ in pairs], [s[head] for _, s in pairs]) for head in schema}
    for head, labels in schema.items():
        a, b = columns[head]
        result["kappa"][head] = cohen_kappa(a, b)
        result["raw_agreement"][head] = sum(x == y for x, y in zip(a, b, strict=True)) / len(a)
        index = {label: i for i, label in enumerate(labels)}
        gold, second = (np.array([index[x] for x in column], dtype=np.int64) for column in (a, b))
        result["macro_f1"][head] = macro_f1(gold, second, len(labels))
    dissatisfied = [label for label in schema["dissatisfaction"] if label != "none"]
    result["dissatisfaction_binary_f1"] = binary_report(*columns["dissatisfaction"], dissatisfied)["f1"]
    result["escalation_yes_f1"] = binary_report(*columns["escalation_risk"], ("yes",))["f1"]
    result["disagreements"] = []
    for f, s in pairs:
        differing = {h: [f["labels"][h], s[h]] for h in schema if f["labels"][h] != s[h]}
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
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--round", type=int, default=1, help="1: every batch vs first labels; 2+: corpus")
    args = parser.parse_args(argv)
    if args.round < 1:
        parser.error(f"--round must be 1 or more, got {args.round}")
    try:
        if args.action == "draw":
            paths = (
                draw(args.annotations)
                if args.round == 1
                else draw_later_round(args.annotations, args.corpus, args.round)
            )
            sys.stdout.write("".join(f"{path}\n" for path in paths))
            return 0
        result = agreement(args.annotations, args.corpus, args.round)
    except ValueError as err:
        parser.error(str(err))
    (round_dir(args.annotations, args.round) / "agreement.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    summary = {k: v for k, v in result.items() if k != "disagreements"}
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
