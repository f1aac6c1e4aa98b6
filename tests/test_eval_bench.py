"""``kesu bench`` on the tiny model version: every runtime found is timed, and unusable data is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.bench import LENGTH_CLASSES, bench, render_bench, texts_by_length
from service.cli import main

SHORT = "快递还没到"
TYPICAL = "上周买的电水壶用了三天就不加热了，联系客服说要寄回检测，来回运费还得我自己出，太不合理了"


def write_cases(path: Path, texts: list[str]) -> Path:
    path.write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8"
    )
    return path


def test_bench_times_every_runtime_with_ratios(
    tiny_run: Path, tiny_model_version: Path, tmp_path: Path
) -> None:
    data = write_cases(tmp_path / "cases.jsonl", [SHORT, TYPICAL])
    results = bench(tiny_model_version, data, tiny_run / "best", repeats=3, batches=1)
    assert list(results["runtimes"]) == ["torch_fp32", "onnx_fp32", "onnx_int8"]
    for runtime in results["runtimes"].values():
        assert set(runtime["latency"]) == set(LENGTH_CLASSES)
        assert all(r["p50_ms"] > 0 and r["n"] == 3 for r in runtime["latency"].values())
        assert runtime["throughput_batch32_per_s"] > 0
    assert results["throughput_ratio_vs_torch_fp32"]["torch_fp32"] == pytest.approx(1.0)
    assert render_bench(results).count("| onnx_") == 2


def test_long_inputs_are_joined_up_to_512_chars(tmp_path: Path) -> None:
    inputs = texts_by_length(write_cases(tmp_path / "cases.jsonl", [SHORT, TYPICAL]), per_class=4)
    assert [len(inputs[c]) for c in LENGTH_CLASSES] == [1, 1, 4]
    assert all(300 <= len(text) <= 512 for text, _ in inputs["long"])


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([], "no cases of length short (1-30 chars), typical (31-128 chars)"),
        ([SHORT], "no cases of length typical (31-128 chars)"),
        ([TYPICAL], "no cases of length short (1-30 chars)\n"),
    ],
)
def test_data_without_short_or_typical_cases_is_refused(
    tiny_model_version: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    texts: list[str],
    message: str,
) -> None:
    data = write_cases(tmp_path / "cases.jsonl", texts)
    assert main(["bench", "--model", str(tiny_model_version), "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_missing_data_file_is_a_named_error(
    tiny_model_version: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.jsonl"
    assert main(["bench", "--model", str(tiny_model_version), "--data", str(missing)]) == 1
    assert f"data file {missing} not found" in capsys.readouterr().err


def test_a_split_name_is_read_from_the_corpus(
    tiny_model_version: Path, tiny_corpus_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "bench.json"
    argv = ["--model", str(tiny_model_version), "--data", "test", "--corpus", str(tiny_corpus_dir)]
    assert main(["bench", *argv, "--repeats", "2", "--output", str(output)]) == 0
    assert json.loads(output.read_text())["model"] == tiny_model_version.name


def test_zero_repeats_is_a_named_error(
    tiny_model_version: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_cases(tmp_path / "cases.jsonl", [SHORT, TYPICAL])
    assert main(["bench", "--model", str(tiny_model_version), "--data", str(data), "--repeats", "0"]) == 1
    assert "repeats must be at least 1, got 0" in capsys.readouterr().err
