"""``kesu classify`` file mode: JSONL cases in, JSONL results out, streamed in order.

Lines are read one at a time and classified in batches; a line that is not a
valid case yields an error record ``{"line": n, "id": ..., "error": {...}}``
in its place instead of stopping the run. Blank lines are skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError
from tqdm import tqdm

from service.engine import Engine
from service.errors import ApiError, ErrorDetail, error_content, validation_detail
from service.schemas import CaseIn

logger = logging.getLogger(__name__)


@dataclass
class FileStats:
    cases: int = 0
    errors: int = 0


def parse_line(raw: bytes, max_chars: int) -> CaseIn:
    """One input line as a validated case; raises ``ApiError`` saying what is wrong."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_utf8", f"line is not valid UTF-8 (byte {exc.start})", None) from exc
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"line is not valid JSON: {exc}", None) from exc
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_case", "a line must be a JSON object", None)
    try:
        case = CaseIn.model_validate(data)
    except ValidationError as exc:
        detail = validation_detail(exc.errors())
        raise ApiError(422, detail.code, detail.message, detail.field) from exc
    case.check_limits(max_chars)
    return case


def error_record(line: int, detail: ErrorDetail, raw: bytes) -> dict[str, Any]:
    record: dict[str, Any] = {"line": line, "id": None}
    try:
        data = json.loads(raw)
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            record["id"] = data["id"]
    except ValueError:
        pass
    record.update(error_content(detail))
    return record


def _lines(src: Any, bar: tqdm[Any]) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(src, start=1):
        bar.update(len(raw))
        if raw.strip():
            yield number, raw


def _write_batch(engine: Engine, batch: list[CaseIn | dict[str, Any]], out: TextIO) -> None:
    """Writes a batch's results and error records in input order."""
    cases = [item for item in batch if isinstance(item, CaseIn)]
    results = iter(engine.predict([case.to_input() for case in cases]))
    for item in batch:
        record = engine.result(next(results), item.id) if isinstance(item, CaseIn) else item
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    out.flush()


def classify_file(
    engine: Engine,
    input_path: Path,
    output_path: Path,
    batch_size: int = 64,
    max_text_chars: int = 5000,
    progress: bool = True,
) -> FileStats:
    """Classifies every case of ``input_path`` into ``output_path``; returns counts.

    Raises:
        OSError: the input cannot be read or the output cannot be written.
    """
    stats = FileStats()
    total = input_path.stat().st_size
    with (
        input_path.open("rb") as src,
        output_path.open("w", encoding="utf-8") as out,
        tqdm(total=total, unit="B", unit_scale=True, desc="classify", disable=not progress) as bar,
    ):
        batch: list[CaseIn | dict[str, Any]] = []
        for number, raw in _lines(src, bar):
            try:
                batch.append(parse_line(raw, max_text_chars))
                stats.cases += 1
            except ApiError as exc:
                batch.append(error_record(number, exc.detail, raw))
                stats.errors += 1
                logger.warning("line %d: %s (field %s)", number, exc.detail.message, exc.detail.field or "-")
            if len(batch) >= batch_size:
                _write_batch(engine, batch, out)
                batch = []
        if batch:
            _write_batch(engine, batch, out)
    return stats
