from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from service import cli
from service.cli import main
from tests.service_support import assert_result_shape, heads_of

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def models_dir(tiny_model_version: Path, tmp_path: Path) -> Path:
    """A models folder whose DEFAULT names the tiny version (the shipped-default layout)."""
    root = tmp_path / "models"
    root.mkdir()
    (root / "tiny").symlink_to(tiny_model_version, target_is_directory=True)
    (root / "DEFAULT").write_text("tiny\n", encoding="utf-8")
    return root


def write_lines(path: Path, lines: list[Any]) -> Path:
    with path.open("wb") as f:
        for line in lines:
            f.write(line if isinstance(line, bytes) else json.dumps(line, ensure_ascii=False).encode())
            f.write(b"\n")
    return path


def test_classify_file_in_order_with_error_records(
    models_dir: Path, tiny_model_version: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases: list[Any] = [{"id": f"L{i}", "text": f"快递第{i}天还没到"} for i in range(150)]
    cases[3] = b'{"id": "broken", "text": '
    cases[7] = {"id": "empty", "text": "   "}
    cases[9] = {
        "id": "D",
        "dialogue": [{"role": "customer", "text": "短信发不出去"}, {"role": "agent", "text": "换个手机"}],
    }
    cases[11] = b"\xff\xfe not utf-8"
    cases[12] = b""  # blank lines are skipped
    source = write_lines(tmp_path / "cases.jsonl", cases)
    out = tmp_path / "results.jsonl"

    code = main(
        [
            "classify",
            "--input",
            str(source),
            "--output",
            str(out),
            "--models-dir",
            str(models_dir),
            "--batch-size",
            "16",
        ]
    )
    assert code == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 149
    assert records[3] == {
        "line": 4,
        "id": None,
        "error": {"code": "invalid_json", "message": records[3]["error"]["message"], "field": None},
    }
    assert records[7]["line"] == 8 and records[7]["id"] == "empty" and records[7]["error"]["field"] == "text"
    assert records[11]["line"] == 12 and records[11]["error"]["code"] == "invalid_utf8"
    good = [r for r in records if "error" not in r]
    assert [r["id"] for r in good] == [c["id"] for c in cases if isinstance(c, dict) and c["id"] != "empty"]
    heads = heads_of(tiny_model_version)
    for result in good:
        assert_result_shape(result, heads)
    err = capsys.readouterr().err
    assert "146 cases" in err and "3 bad lines" in err
    assert "100%" in err  # the progress bar goes to stderr


def test_classify_with_an_explicit_model(tiny_model_version: Path, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [{"text": "退款还没到"}])
    out = tmp_path / "out.jsonl"
    assert (
        main(
            [
                "classify",
                "--input",
                str(source),
                "--output",
                str(out),
                "--model",
                str(tiny_model_version),
                "--precision",
                "int8",
                "--threads",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1


def test_missing_input_is_a_clean_error(models_dir: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "classify",
            "--input",
            str(tmp_path / "nope.jsonl"),
            "--output",
            str(tmp_path / "o.jsonl"),
            "--models-dir",
            str(models_dir),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "input file not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_model_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_lines(tmp_path / "in.jsonl", [{"text": "a"}])
    code = main(
        [
            "classify",
            "--input",
            str(source),
            "--output",
            str(tmp_path / "o.jsonl"),
            "--models-dir",
            str(tmp_path / "no-models"),
        ]
    )
    assert code == 1
    assert "DEFAULT" in capsys.readouterr().err


def test_unwritable_output_is_a_clean_error(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_lines(tmp_path / "in.jsonl", [{"text": "a"}])
    code = main(
        [
            "classify",
            "--input",
            str(source),
            "--output",
            str(tmp_path / "no-dir" / "o.jsonl"),
            "--models-dir",
            str(models_dir),
        ]
    )
    assert code == 1
    assert "kesu: error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["serve", "--help"],
        ["classify", "--help"],
        ["feedback", "--help"],
        ["feedback", "export", "--help"],
    ],
)
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    assert "usage: kesu" in capsys.readouterr().out


def test_serve_with_a_missing_model_fails_fast(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--models-dir", str(tmp_path), "--model", "nope"]) == 1
    assert "not found" in capsys.readouterr().err


def test_serve_outside_the_repository_says_where_it_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--models-dir", str(tmp_path / "models")]) == 1
    err = capsys.readouterr().err
    assert str((tmp_path / "models").resolve()) in err
    assert "--models-dir" in err and "KESU_MODELS_DIR" in err


class FakeEntryPoint:
    def __init__(self, name: str, target: Any) -> None:
        self.name, self.value, self.target = name, f"fake:{name}", target

    def load(self) -> Any:
        if isinstance(self.target, BaseException):
            raise self.target
        return self.target


def add_hello_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hello = subparsers.add_parser("hello", help="say hello")
    hello.set_defaults(func=lambda args: 7)


def test_plugin_commands_load_and_broken_ones_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = [
        FakeEntryPoint("train", ModuleNotFoundError("No module named 'torch'")),
        FakeEntryPoint("hello", add_hello_command),
        FakeEntryPoint("clash", lambda sub: sub.add_parser("serve")),  # registering fails: name taken
    ]
    monkeypatch.setattr(cli, "entry_points", lambda group: plugins if group == cli.PLUGIN_GROUP else [])
    assert main(["hello"]) == 7
    with pytest.raises(SystemExit):
        main(["train"])
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])  # the built-in serve is intact
    assert exited.value.code == 0


def test_serve_runs_uvicorn_on_the_given_port(models_dir: Path, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "--log-level", "WARNING", "serve", "--port", str(port),
         "--models-dir", str(models_dir), "--feedback-db", str(tmp_path / "fb.db"), "--threads", "1"],
        cwd=REPO,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        response = httpx.post(f"{base}/v1/classify", json={"id": "S", "text": "快递还没到"})
        assert response.status_code == 200
        assert response.json()["id"] == "S"
    finally:
        server.terminate()
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after shutdown
