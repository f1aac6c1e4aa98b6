from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.engine import Engine
from service.model_version import METRICS_FILE, load_model_version
from tests.service_support import assert_result_shape, heads_of, make_settings, ready_client, wait_ready


@pytest.fixture(scope="module")
def client(tiny_model_version: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(tiny_model_version, tmp_path_factory.mktemp("api"))
    with ready_client(settings) as client:
        yield client


@pytest.fixture(scope="module")
def heads(tiny_model_version: Path) -> dict[str, list[str]]:
    return heads_of(tiny_model_version)


def test_healthz_and_readyz(client: TestClient, tiny_model_version: Path) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["model_version"] == load_model_version(tiny_model_version).name


def test_classify_text(client: TestClient, heads: dict[str, list[str]]) -> None:
    response = client.post("/v1/classify", json={"id": "T-1", "text": "快递五天了还没到，客服也不回消息"})
    assert response.status_code == 200
    result = response.json()
    assert result["id"] == "T-1"
    assert_result_shape(result, heads)


def test_classify_dialogue_without_id(client: TestClient, heads: dict[str, list[str]]) -> None:
    dialogue = [
        {"role": "customer", "text": "短信发不出去"},
        {"role": "agent", "text": "请换个手机试试"},
        {"role": "customer", "text": "那好吧"},
    ]
    response = client.post("/v1/classify", json={"dialogue": dialogue})
    assert response.status_code == 200
    assert response.json()["id"] is None
    assert_result_shape(response.json(), heads)


def test_batch_keeps_order(client: TestClient, heads: dict[str, list[str]]) -> None:
    items: list[dict[str, Any]] = [{"id": f"B-{i}", "text": "太慢了" * (i + 1)} for i in range(10)]
    items.insert(4, {"id": "D", "dialogue": [{"role": "customer", "text": "我要投诉"}]})
    response = client.post("/v1/classify/batch", json={"items": items})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == [item["id"] for item in items]
    for result in results:
        assert_result_shape(result, heads)


def test_batch_result_equals_single_result_labels(client: TestClient) -> None:
    single = client.post("/v1/classify", json={"text": "退款什么时候到账"}).json()
    batched = client.post("/v1/classify/batch", json={"items": [{"text": "退款什么时候到账"}]}).json()[
        "results"
    ][0]
    assert batched["routing"] == single["routing"]


def test_text_limit_counts_characters_not_bytes(client: TestClient) -> None:
    assert client.post("/v1/classify", json={"text": "慢" * 5000}).status_code == 200  # 15000 bytes


def test_model_info(client: TestClient, tiny_model_version: Path, heads: dict[str, list[str]]) -> None:
    info = client.get("/v1/model").json()
    version = load_model_version(tiny_model_version)
    assert info["version"] == version.name
    assert info["heads"] == heads
    assert info["precision"] == "int8"
    if (tiny_model_version / METRICS_FILE).is_file():
        assert info["metrics"] == json.loads((tiny_model_version / METRICS_FILE).read_text(encoding="utf-8"))
    assert all(not isinstance(v, dict | list) for v in info["manifest"].values())
    assert info["routing"]["priority"]["levels"]


def test_metrics_endpoint(client: TestClient) -> None:
    client.post("/v1/classify", json={"text": "质量太差了"})
    client.post("/v1/classify", json={"text": ""})
    text = client.get("/metrics").text
    assert 'kesu_requests_total{endpoint="/v1/classify",method="POST",status="200"}' in text
    assert 'kesu_requests_total{endpoint="/v1/classify",method="POST",status="422"}' in text
    assert 'kesu_request_latency_seconds_bucket{endpoint="/v1/classify"' in text
    assert "kesu_model_batch_size_count" in text


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/v1/classify", "/v1/classify/batch", "/v1/feedback", "/v1/model", "/healthz", "/readyz"):
        assert path in spec["paths"]
    result_schema = spec["components"]["schemas"]["ClassifyResult"]
    assert result_schema["additionalProperties"]["$ref"].endswith("/HeadResult")
    assert client.get("/docs").status_code == 200


LONG = "长" * 5001


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/v1/classify", {"text": ""}, 422, "text"),
        ("/v1/classify", {"text": " \n\t "}, 422, "text"),
        ("/v1/classify", {}, 422, "text"),
        ("/v1/classify", {"id": "x"}, 422, "text"),
        ("/v1/classify", {"text": "a", "dialogue": [{"role": "customer", "text": "b"}]}, 422, "dialogue"),
        ("/v1/classify", {"dialogue": []}, 422, "dialogue"),
        ("/v1/classify", {"dialogue": [{"role": "boss", "text": "hi"}]}, 422, "dialogue.0.role"),
        ("/v1/classify", {"dialogue": [{"role": "customer"}]}, 422, "dialogue.0.text"),
        (
            "/v1/classify",
            {"dialogue": [{"role": "customer", "text": "a"}, {"role": "agent", "text": " "}]},
            422,
            "dialogue.1.text",
        ),
        ("/v1/classify", {"dialogue": "hello"}, 422, "dialogue"),
        ("/v1/classify", {"text": 5}, 422, "text"),
        ("/v1/classify", {"text": ["a"]}, 422, "text"),
        ("/v1/classify", {"text": "a", "id": 7}, 422, "id"),
        ("/v1/classify", {"text": LONG}, 422, "text"),
        (
            "/v1/classify",
            {"dialogue": [{"role": "customer", "text": "a"}, {"role": "agent", "text": LONG}]},
            422,
            "dialogue.1.text",
        ),
        ("/v1/classify", {"dialogue": [{"role": "customer", "text": "长" * 3000}] * 2}, 422, "dialogue"),
        ("/v1/classify", [], 422, "body"),
        ("/v1/classify", "text", 422, "body"),
        ("/v1/classify/batch", {"items": []}, 422, "items"),
        ("/v1/classify/batch", {}, 422, "items"),
        ("/v1/classify/batch", {"items": {"text": "a"}}, 422, "items"),
        ("/v1/classify/batch", {"items": [{"text": "a"}] * 257}, 422, "items"),
        (
            "/v1/classify/batch",
            {"items": [{"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": LONG}]},
            422,
            "items.3.text",
        ),
        ("/v1/classify/batch", {"items": [{"text": "a"}, {"text": ""}]}, 422, "items.1.text"),
        ("/v1/classify/batch", {"items": [{"text": "a"}, {}]}, 422, "items.1.text"),
        (
            "/v1/classify/batch",
            {"items": [{"dialogue": [{"role": "x", "text": "a"}]}]},
            422,
            "items.0.dialogue.0.role",
        ),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    client: TestClient, path: str, body: Any, status: int, field: str
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["code"] and error["message"]


@pytest.mark.parametrize(
    ("raw", "headers", "status", "code"),
    [
        (b'{"text": "unterminated', {"content-type": "application/json"}, 422, "invalid_json"),
        (b'{"text": "\xff\xfe"}', {"content-type": "application/json"}, 400, "invalid_utf8"),
        (b"\xc3\x28", {"content-type": "application/json"}, 400, "invalid_utf8"),
        (b'{"text": "a"}', {"content-type": "text/plain"}, 422, "invalid_body"),
        (b"", {"content-type": "application/json"}, 422, "invalid_field"),
        (b'{"text": "\\ud800"}', {"content-type": "application/json"}, 422, "invalid_field"),
    ],
)
def test_undecodable_bodies(
    client: TestClient, raw: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    for path in ("/v1/classify", "/v1/classify/batch", "/v1/feedback"):
        response = client.post(path, content=raw, headers=headers)
        assert response.status_code == status, (path, response.text)
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["field"] in ("body", "text", "items", "labels")


def test_oversized_body_is_413(tiny_model_version: Path, tmp_path: Path) -> None:
    with ready_client(make_settings(tiny_model_version, tmp_path, max_body_bytes=4096)) as client:
        response = client.post("/v1/classify", json={"text": "a" * 5000})
        assert response.status_code == 413
        assert response.json()["error"] == {
            "code": "payload_too_large",
            "message": "request body is larger than 4096 bytes",
            "field": "body",
        }


def test_unknown_route_and_method_use_the_error_shape(client: TestClient) -> None:
    assert client.get("/v1/nothing").json()["error"]["code"] == "not_found"
    response = client.get("/v1/classify")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_service_keeps_serving_after_bad_input(client: TestClient) -> None:
    client.post("/v1/classify", content=b"\xff", headers={"content-type": "application/json"})
    client.post("/v1/classify/batch", json={"items": [{"text": LONG}]})
    assert client.post("/v1/classify", json={"text": "还在吗"}).status_code == 200


def test_readyz_is_503_while_loading(
    tiny_model_version: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    real_load = Engine.load

    def slow_load(settings: Any) -> Engine:
        gate.wait(10)
        return real_load(settings)

    monkeypatch.setattr(Engine, "load", slow_load)
    with TestClient(create_app(make_settings(tiny_model_version, tmp_path))) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "not_ready"
        assert client.post("/v1/classify", json={"text": "a"}).status_code == 503
        gate.set()
        wait_ready(client)
        assert client.post("/v1/classify", json={"text": "a"}).status_code == 200


def test_readyz_reports_a_failed_load(tiny_model_version: Path, tmp_path: Path) -> None:
    settings = make_settings(tiny_model_version, tmp_path, model_version=str(tmp_path / "missing"))
    with TestClient(create_app(settings)) as client:
        for _ in range(200):
            response = client.get("/readyz")
            if "failed" in response.json()["error"]["message"]:
                break
            threading.Event().wait(0.01)
        assert response.status_code == 503
        assert "missing" in response.json()["error"]["message"]
        assert client.get("/healthz").status_code == 200


def test_logs_hold_no_raw_text_by_default(
    tiny_model_version: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "我的手机13812345678，身份证11010119900307123X，快递还没到"
    for log_text in (False, True):
        caplog.clear()
        with (
            caplog.at_level(logging.DEBUG),
            ready_client(make_settings(tiny_model_version, tmp_path, log_text=log_text)) as client,
        ):
            client.post("/v1/classify", json={"text": text})
            client.post(
                "/v1/feedback", json={"text": text, "labels": {next(iter(heads_of(tiny_model_version))): "x"}}
            )
            with client.websocket_connect("/v1/stream") as ws:
                ws.send_json({"call_id": "c", "role": "customer", "text": text})
                ws.receive_json()
        assert "13812345678" not in caplog.text
        assert "11010119900307123X" not in caplog.text
        assert ("快递还没到" in caplog.text) is log_text
