"""Assembles annotated batches into the corpus: ``python -m training.corpus.build``.

Joins pool cases with their labels and adds the written cases, drops exact duplicates,
applies the label corrections (``corrections/*.jsonl``), groups cases that share an utterance or are
near-duplicates (so no dialogue or its copies straddles splits), and writes stratified
``train/dev/test.jsonl``. A published split is never reshuffled: cases already in the output
folder keep their split, and only new groups are split (``--reshuffle`` starts over).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from service.cases import case_to_text
from training.corpus.checks import near_duplicate_pairs
from training.corpus.dataset import SPLITS, read_jsonl, write_jsonl
from training.corpus.reserved import load_reserved, normalize_utterance, touches_reserved
from training.corpus.schema import load_label_schema
from training.corpus.sources import case_turn_texts, utterance_keys

logger = logging.getLogger(__name__)

ANNOTATION_DIR = Path("data/annotation")
CORPUS_DIR = Path("data/corpus")
SPLIT_SHARES = {"train": 0.8, "dev": 0.1, "test": 0.1}
CASE_FIELDS = ("id", "source", "industry", "text", "dialogue")
# Audit rounds read the corpus labels after every other correction, so they are applied last.
AUDIT_CORRECTIONS_PREFIX = "audit_round_"


def labeled_real_cases(annotation_dir: Path, heads: list[str]) -> list[dict[str, Any]]:
    records = []
    for label_file in sorted((annotation_dir / "labels").glob("*.jsonl")):
        pool = {c["id"]: c for c in read_jsonl(annotation_dir / "pool" / label_file.name)}
        for row in read_jsonl(label_file):
            if row["id"] not in pool:
                raise ValueError(f"{label_file}: id {row['id']!r} is not in the matching pool file")
            case = pool[row["id"]]
            record = {k: case[k] for k in CASE_FIELDS if k in case}
            record["labels"] = {h: row[h] for h in heads}
            record["note"] = row.get("note", "")
            records.append(record)
    return records


def apply_corrections(
    records: list[dict[str, Any]], corrections_dir: Path, schema: dict[str, list[str]]
) -> int:
    """Sets each corrected label, file by file in name order, the audit rounds' files last.

    The recorded ``from`` label must be the one being replaced, so a correction written
    against other labels than the corpus has is refused rather than silently applied.
    """
    by_id = {r["id"]: r for r in records}
    applied = 0
    paths = sorted(
        corrections_dir.glob("*.jsonl"), key=lambda p: (p.name.startswith(AUDIT_CORRECTIONS_PREFIX), p.name)
    )
    rows = [(path, row) for path in paths for row in read_jsonl(path)]
    for corrections_path, row in rows:
        record = by_id.get(row["id"])
        if record is None:
            raise ValueError(f"{corrections_path}: id {row['id']!r} is not in the corpus")
        if row["to"] not in schema.get(row["head"], []):
            raise ValueError(
                f"{corrections_path}: {row['id']}: {row['head']!r}={row['to']!r} is not in the "
                f"label schema (heads: {', '.join(schema)})"
            )
        current = record["labels"][row["head"]]
        if current not in (row["from"], row["to"]):
            raise ValueError(
                f"{corrections_path}: {row['id']} {row['head']} is {current!r}, "
                f"correction expects {row['from']!r}"
            )
        record["labels"][row["head"]] = row["to"]
        applied += 1
    logger.info("applied %d label corrections", applied)
    return applied


def written_cases(annotation_dir: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted((annotation_dir / "written").glob("*.jsonl")):
        for row in read_jsonl(path):
            record = {k: row[k] for k in CASE_FIELDS if k in row}
            record["labels"] = row["labels"]
            record["note"] = row.get("note", "")
            records.append(record)
    return records


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        self.parent[self.find(i)] = self.find(j)


def drop_exact_duplicates(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    kept = []
    for r in records:
        key = normalize_utterance(case_to_text(r)[0])
        if key not in seen:
            seen.add(key)
            kept.append(r)
    logger.info("dropped %d exact duplicates", len(records) - len(kept))
    return kept


def assign_groups(records: list[dict[str, Any]]) -> None:
    """Cases sharing a customer utterance (min 6 chars) or nearly identical land in one group."""
    uf = UnionFind(len(records))
    owner: dict[str, int] = {}
    for i, r in enumerate(records):
        for key in utterance_keys(r):
            uf.union(i, owner.setdefault(key, i))
    for i, j, _ in near_duplicate_pairs([case_to_text(r)[0] for r in records]):
        uf.union(i, j)
    for i, r in enumerate(records):
        r["group"] = records[uf.find(i)]["id"]


def stratified_split(records: list[dict[str, Any]], seed: int) -> dict[str, list[dict[str, Any]]]:
    """Splits whole groups, stratified by (real or written, dissatisfaction of the group's first case)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r["group"]].append(r)
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    for gid, members in sorted(groups.items()):
        first = members[0]
        strata[
            ((first.get("source") == "written" and "written") or "real", first["labels"]["dissatisfaction"])
        ].append(gid)
    rng = random.Random(seed)
    splits: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for key in sorted(strata):
        gids = strata[key]
        rng.shuffle(gids)
        n_dev = round(len(gids) * SPLIT_SHARES["dev"])
        n_test = round(len(gids) * SPLIT_SHARES["test"])
        chosen = {"dev": gids[:n_dev], "test": gids[n_dev : n_dev + n_test], "train": gids[n_dev + n_test :]}
        for split, ids in chosen.items():
            splits[split].extend(r for gid in ids for r in groups[gid])
    for rows in splits.values():
        rows.sort(key=lambda r: r["id"])
    return splits


def published_splits(out_dir: Path) -> dict[str, str]:
    """The split of every case already written to ``out_dir`` (empty when nothing is there)."""
    return {
        r["id"]: split
        for split in SPLITS
        if (out_dir / f"{split}.jsonl").exists()
        for r in read_jsonl(out_dir / f"{split}.jsonl")
    }


def split_keeping_published(
    records: list[dict[str, Any]], published: dict[str, str], seed: int
) -> dict[str, list[dict[str, Any]]]:
    """Published cases stay put; a new case joins its group's split, or new groups are split afresh.

    With nothing published, every group is new and this is a plain stratified split.

    A new case that would tie groups of two different splits together is dropped, since
    keeping it would leak one split into another.
    """
    while True:
        assign_groups(records)
        group_splits: dict[str, set[str]] = defaultdict(set)
        for r in records:
            if r["id"] in published:
                group_splits[r["group"]].add(published[r["id"]])
        bridges = {r["id"] for r in records if r["id"] not in published and len(group_splits[r["group"]]) > 1}
        if not bridges:
            break
        logger.info("dropped %d new cases that tie published splits together", len(bridges))
        records = [r for r in records if r["id"] not in bridges]
    clashes = sorted(g for g, s in group_splits.items() if len(s) > 1)
    if clashes:
        raise ValueError(
            f"published cases of different splits now fall in one group ({', '.join(clashes[:3])}): "
            "drop one of the near-duplicates or rebuild with --reshuffle"
        )
    fresh = [r for r in records if not group_splits[r["group"]]]
    splits = stratified_split(fresh, seed)
    for r in records:
        if r["id"] in published:
            splits[published[r["id"]]].append(r)
        elif group_splits[r["group"]]:
            (split,) = group_splits[r["group"]]
            splits[split].append(r)
    for rows in splits.values():
        rows.sort(key=lambda r: r["id"])
    return splits


def build(annotation_dir: Path, out_dir: Path, seed: int = 2026, reshuffle: bool = False) -> dict[str, int]:
    schema = load_label_schema()
    reserved = load_reserved()
    annotated = labeled_real_cases(annotation_dir, list(schema)) + written_cases(annotation_dir)
    apply_corrections(annotated, annotation_dir / "corrections", schema)
    published = {} if reshuffle else published_splits(out_dir)
    kept = [r for r in annotated if not touches_reserved(case_turn_texts(r), reserved)]
    logger.info("dropped %d cases with a reserved utterance", len(annotated) - len(kept))
    # Published cases come first so an exact duplicate never pushes one out of its split.
    records = sorted(kept, key=lambda r: r["id"] not in published)
    records = drop_exact_duplicates(records)
    splits = split_keeping_published(records, published, seed)
    for split, rows in splits.items():
        write_jsonl(out_dir / f"{split}.jsonl", rows)
    return {s: len(rows) for s, rows in splits.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--annotations", type=Path, default=ANNOTATION_DIR)
    parser.add_argument("--output", type=Path, default=CORPUS_DIR)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--reshuffle", action="store_true", help="split every case afresh, ignoring published splits"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sizes = build(args.annotations, args.output, args.seed, args.reshuffle)
    sys.stdout.write(json.dumps(sizes) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
