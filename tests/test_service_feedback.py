from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from service.cli import main
from service.feedback import FeedbackStore, export_corpus
from service.privacy import MOBILE_MASK
from tests.service_support import heads_of, make_settings, ready_client

REPO = Path(__file__).resolve().parents[1]


def corrected(version: Path) -> dict[str, str]:
    """Corrected labels for two heads, taken from the version (no label names in the tests)."""
    heads = heads_of(version)
    names = list(heads)
    return {names[0]: heads[names[0]][0], names[-1]: heads[names[-1]][-1]}


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_feedback_survives_a_restart_and_exports_as_corpus(tiny_model_version: Path, tmp_path: Path) -> None:
    settings = make_settings(tiny_model_version, tmp_path)
    labels = corrected(tiny_model_version)
    dialogue = [{"role": "customer", "text": "打我电话13812345678"}, {"role": "agent", "text": "好的"}]
    with ready_client(settings) as client:
        first = client.post(
            "/v1/feedback", json={"id": "T-1", "text": "快递还没到，手机13812345678", "labels": labels}
        )
        second = client.post("/v1/feedback", json={"dialogue": dialogue, "labels": labels, "note": "拿不准"})
        assert first.status_code == 201 and second.status_code == 201
        ids = [first.json()["feedback_id"], second.json()["feedback_id"]]
    with ready_client(settings) as client:  # a new app on the same database
        third = client.post("/v1/feedback", json={"id": "T-1", "text": "再次反馈", "labels": labels})
        ids.append(third.json()["feedback_id"])

    out = tmp_path / "out.jsonl"
    assert main(["feedback", "export", "--db", str(settings.feedback_db), "--output", str(out)]) == 0
    lines = read_jsonl(out)
    assert [line["id"] for line in lines] == ids
    assert lines[0] == {
        "id": ids[0],
        "source": "feedback",
        "text": f"快递还没到，手机{MOBILE_MASK}",
        "labels": labels,
        "note": "",
        "group": "T-1",
    }
    assert lines[1]["dialogue"] == [{"role": "customer", "text": f"打我电话{MOBILE_MASK}"}, dialogue[1]]
    assert "text" not in lines[1]
    assert lines[1]["note"] == "拿不准" and lines[1]["group"] == ids[1]
    assert lines[2]["group"] == "T-1"  # same case id, same split group
    assert "13812345678" not in out.read_text(encoding="utf-8")
    assert b"13812345678" not in settings.feedback_db.read_bytes()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "a", "labels": {}}, "labels"),
        ({"text": "a"}, "labels"),
        ({"text": "a", "labels": {"no_such_head": "x"}}, "labels.no_such_head"),
        ({"labels": {"H": "L"}}, "text"),
        ({"text": "", "labels": {"H": "L"}}, "text"),
        ({"text": "a", "labels": {"H": "L"}, "note": "n" * 2001}, "note"),
        ({"text": "a", "labels": {"H": 3}}, "labels.H"),
    ],
)
def test_bad_feedback_is_rejected(
    tiny_model_version: Path, tmp_path: Path, body: dict[str, object], field: str
) -> None:
    head, label = next(iter(corrected(tiny_model_version).items()))
    raw = json.loads(json.dumps(body).replace('"H"', json.dumps(head)).replace('"L"', json.dumps(label)))
    field = field.replace("H", head)
    with ready_client(make_settings(tiny_model_version, tmp_path)) as client:
        response = client.post("/v1/feedback", json=raw)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field


def test_unknown_label_names_the_head(tiny_model_version: Path, tmp_path: Path) -> None:
    head = next(iter(heads_of(tiny_model_version)))
    with ready_client(make_settings(tiny_model_version, tmp_path)) as client:
        response = client.post("/v1/feedback", json={"text": "a", "labels": {head: "not-a-label"}})
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "unknown_label",
        "message": response.json()["error"]["message"],
        "field": f"labels.{head}",
    }


def test_store_uses_wal_and_full_sync(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.db")
    mode = store._conn.execute("PRAGMA journal_mode").fetchone()[0]
    sync = store._conn.execute("PRAGMA synchronous").fetchone()[0]
    store.close()
    assert (mode, sync) == ("wal", 2)


WRITER = textwrap.dedent(
    """
    import sys, time
    from service.feedback import FeedbackStore

    store = FeedbackStore(sys.argv[1])
    for i in range(25):
        record = store.add(labels={"h": "l"}, text=f"第{i}条 13812345678", case_id=f"C-{i}")
        print(record.feedback_id, flush=True)
    print("done", flush=True)
    time.sleep(60)
    """
)


def test_nothing_acknowledged_is_lost_on_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "fb.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acknowledged = []
    for line in proc.stdout:
        if line.strip() == "done":
            break
        acknowledged.append(line.strip())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert len(acknowledged) == 25

    store = FeedbackStore(db)
    try:
        assert [r.feedback_id for r in store.records()] == acknowledged
        out = tmp_path / "out.jsonl"
        with out.open("w", encoding="utf-8") as f:
            assert export_corpus(store, f) == 25
    finally:
        store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_records_are_paged_in_order(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.db")
    ids = [store.add(labels={"h": "l"}, text=f"t{i}").feedback_id for i in range(7)]
    assert [r.feedback_id for r in store.records(page_size=3)] == ids
    with pytest.raises(ValueError):
        store.add(labels={"h": "l"})
    store.close()


def test_export_of_a_missing_database_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["feedback", "export", "--db", str(tmp_path / "none.db"), "--output", str(tmp_path / "o.jsonl")]
    )
    assert code == 1
    assert "feedback database not found" in capsys.readouterr().err
