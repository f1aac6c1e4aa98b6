"""Utterances reserved for independent evaluation: no corpus case may contain one."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

DEFAULT_RESERVED_PATH = Path(__file__).resolve().parents[3] / "shared" / "reserved_utterances.txt"


def normalize_utterance(text: str) -> str:
    """Drops all whitespace, as the reserved list is written without the corpus's spaces."""
    return "".join(text.split())


def load_reserved(path: Path = DEFAULT_RESERVED_PATH) -> frozenset[str]:
    if not path.is_file():
        raise FileNotFoundError(f"reserved utterance list not found at {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(normalize_utterance(line) for line in lines if line.strip())


def touches_reserved(turn_texts: Iterable[str], reserved: frozenset[str]) -> bool:
    return any(normalize_utterance(t) in reserved for t in turn_texts)
