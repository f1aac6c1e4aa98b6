"""``kesu eval --compare A B``: the headline figures of two reports side by side, gating promotion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.evaluate import REPORT_JSON


def load_report(path: Path) -> dict[str, Any]:
    file = path / REPORT_JSON if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no evaluation report at {file}")
    report: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    return report


def compare(
    baseline: dict[str, Any], candidate: dict[str, Any], max_drop: float
) -> tuple[list[dict[str, Any]], bool]:
    """Rows of (figure, A, B, delta, regressed); the flag is True when a figure drops by over ``max_drop``."""
    rows = []
    for key, before in baseline["headline"].items():
        after = candidate["headline"].get(key)
        if after is None:
            rows.append({"figure": key, "a": before, "b": None, "delta": None, "regressed": True})
            continue
        delta = after - before
        rows.append({"figure": key, "a": before, "b": after, "delta": delta, "regressed": delta < -max_drop})
    return rows, any(r["regressed"] for r in rows)


def render_comparison(rows: list[dict[str, Any]], a: str, b: str, max_drop: float) -> str:
    lines = [f"| figure | A: {a} | B: {b} | B − A | regressed (> {max_drop:.3f}) |", "|---|---|---|---|---|"]
    for r in rows:
        b_cell = "missing" if r["b"] is None else f"{r['b']:.3f}"
        delta = "–" if r["delta"] is None else f"{r['delta']:+.3f}"
        lines.append(
            f"| {r['figure']} | {r['a']:.3f} | {b_cell} | {delta} | {'**yes**' if r['regressed'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"
