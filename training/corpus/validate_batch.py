"""Checks an annotation batch: ``python -m training.corpus.validate_batch LABELS [--pool POOL]``.

A label file holds one ``{"id", <head>: label, ..., "note"}`` object per line for the
cases of a pool file, or whole records with ``labels`` (written cases).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from training.corpus.schema import load_label_schema, record_problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("labels", type=Path)
    parser.add_argument("--pool", type=Path, help="the pool file the labels answer (checks coverage)")
    args = parser.parse_args(argv)
    schema = load_label_schema()
    pool = {}
    if args.pool:
        for line in args.pool.read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            pool[case["id"]] = case
    errors: list[str] = []
    seen: set[str] = set()
    counts: dict[str, Counter[str]] = {h: Counter() for h in schema}
    for n, line in enumerate(args.labels.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: invalid JSON ({exc})")
            continue
        if "labels" not in row:
            row = {
                "id": row.get("id"),
                **pool.get(row.get("id"), {}),
                "labels": {h: row.get(h) for h in schema},
            }
        if args.pool and row.get("id") not in pool:
            errors.append(f"line {n}: id {row.get('id')!r} is not in the pool")
        if row.get("id") in seen:
            errors.append(f"line {n}: duplicate id {row.get('id')!r}")
        seen.add(row.get("id"))
        errors.extend(f"line {n}: {p}" for p in record_problems(row, schema, require_all_heads=True))
        for head in schema:
            counts[head][row.get("labels", {}).get(head)] += 1
    missing = sorted(set(pool) - seen)
    if missing:
        errors.append(f"{len(missing)} pool cases have no labels, e.g. {missing[:5]}")
    for head, counter in counts.items():
        sys.stdout.write(f"{head}: {dict(counter.most_common())}\n")
    for error in errors[:50]:
        sys.stdout.write(f"ERROR {error}\n")
    sys.stdout.write(f"{len(seen)} labeled, {len(errors)} errors\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
