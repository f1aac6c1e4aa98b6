"""Durable store of corrected labels (SQLite, WAL, ``synchronous=FULL``) and its corpus export.

A record is committed, and so on disk, before the API answers 201: a process
killed right after loses nothing. Texts are masked before they are stored.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from service.privacy import mask_pii

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    feedback_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    case_id TEXT,
    text TEXT,
    dialogue TEXT,
    labels TEXT NOT NULL,
    note TEXT,
    model_version TEXT
)
"""

COLUMNS = "feedback_id, created_at, case_id, text, dialogue, labels, note, model_version"


@dataclass(frozen=True)
class FeedbackRecord:
    feedback_id: str
    created_at: str
    case_id: str | None
    text: str | None
    dialogue: list[dict[str, str]] | None
    labels: dict[str, str]
    note: str | None
    model_version: str | None

    def to_corpus(self) -> dict[str, Any]:
        """The training-corpus line of this record (only the corrected heads are labelled)."""
        line: dict[str, Any] = {"id": self.feedback_id, "source": "feedback"}
        if self.dialogue is not None:
            line["dialogue"] = self.dialogue
        else:
            line["text"] = self.text
        line["labels"] = self.labels
        line["note"] = self.note or ""
        # Feedback on the same case id shares a group, so splits keep it on one side.
        line["group"] = self.case_id or self.feedback_id
        return line


class FeedbackStore:
    """Appends feedback to a SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def add(
        self,
        labels: Mapping[str, str],
        text: str | None = None,
        dialogue: Sequence[Mapping[str, str]] | None = None,
        case_id: str | None = None,
        note: str | None = None,
        model_version: str | None = None,
    ) -> FeedbackRecord:
        """Masks and stores one record; returns once it is committed to disk."""
        if (text is None) == (dialogue is None):
            raise ValueError("feedback needs exactly one of text or dialogue")
        record = FeedbackRecord(
            feedback_id=f"fb-{uuid.uuid4().hex}",
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            case_id=case_id,
            text=mask_pii(text) if text is not None else None,
            dialogue=[{"role": t["role"], "text": mask_pii(t["text"])} for t in dialogue]
            if dialogue
            else None,
            labels=dict(labels),
            note=mask_pii(note) if note else None,
            model_version=model_version,
        )
        row = (
            record.feedback_id,
            record.created_at,
            record.case_id,
            record.text,
            json.dumps(record.dialogue, ensure_ascii=False) if record.dialogue is not None else None,
            json.dumps(record.labels, ensure_ascii=False),
            record.note,
            record.model_version,
        )
        with self._lock:
            self._conn.execute(
                f"INSERT INTO feedback ({COLUMNS}) VALUES ({', '.join('?' * len(row))})",
                row,
            )
        return record

    def records(self, page_size: int = 500) -> Iterator[FeedbackRecord]:
        """All records, oldest first, read a page at a time."""
        last = 0
        while True:
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT seq, {COLUMNS} FROM feedback WHERE seq > ? ORDER BY seq LIMIT ?",
                    (last, page_size),
                ).fetchall()
            if not rows:
                return
            for _, fid, created, case_id, text, dialogue, labels, note, version in rows:
                yield FeedbackRecord(
                    feedback_id=fid,
                    created_at=created,
                    case_id=case_id,
                    text=text,
                    dialogue=json.loads(dialogue) if dialogue is not None else None,
                    labels=json.loads(labels),
                    note=note,
                    model_version=version,
                )
            last = rows[-1][0]


def export_corpus(store: FeedbackStore, out: TextIO) -> int:
    """Writes every record as one corpus JSON line; returns how many."""
    n = 0
    for record in store.records():
        out.write(json.dumps(record.to_corpus(), ensure_ascii=False) + "\n")
        n += 1
    return n
