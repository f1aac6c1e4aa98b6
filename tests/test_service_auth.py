from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.service_support import make_settings, ready_client

KEY = "s3cret-key"
CASE = {"text": "快递还没到"}


@pytest.fixture(scope="module")
def secured(tiny_model_version: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(tiny_model_version, tmp_path_factory.mktemp("auth"), api_key=KEY)
    with ready_client(settings) as client:
        yield client


PROTECTED = [
    ("post", "/v1/classify", CASE),
    ("post", "/v1/classify/batch", {"items": [CASE]}),
    ("post", "/v1/feedback", {**CASE, "labels": {"x": "y"}}),
    ("get", "/v1/model", None),
    ("get", "/metrics", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_requests_without_a_key_get_401_json(
    secured: TestClient, method: str, path: str, body: object
) -> None:
    for headers in (
        {},
        {"X-API-Key": "wrong"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {KEY}"},
    ):
        response = secured.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (path, headers)
        assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("headers", [{"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"}])
def test_either_header_is_accepted(secured: TestClient, headers: dict[str, str]) -> None:
    assert secured.post("/v1/classify", json=CASE, headers=headers).status_code == 200
    assert secured.get("/v1/model", headers=headers).status_code == 200
    assert secured.get("/metrics", headers=headers).status_code == 200


def test_probes_and_docs_stay_open(secured: TestClient) -> None:
    assert secured.get("/healthz").status_code == 200
    assert secured.get("/readyz").status_code == 200
    assert secured.get("/openapi.json").status_code == 200


def test_auth_is_checked_before_field_validation(secured: TestClient) -> None:
    assert secured.post("/v1/classify", json={"text": ""}).status_code == 401
    assert secured.post("/v1/classify", json={"text": ""}, headers={"X-API-Key": KEY}).status_code == 422


def test_websocket_needs_the_key(secured: TestClient) -> None:
    with secured.websocket_connect("/v1/stream") as ws:
        message = ws.receive_json()
        assert message["error"]["code"] == "unauthorized"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        (f"/v1/stream?api_key={KEY}", {}),
        ("/v1/stream", {"X-API-Key": KEY}),
        ("/v1/stream", {"Authorization": f"Bearer {KEY}"}),
    ],
)
def test_websocket_with_key(secured: TestClient, url: str, headers: dict[str, str]) -> None:
    with secured.websocket_connect(url, headers=headers) as ws:
        ws.send_json({"call_id": "auth", "role": "agent", "text": "您好"})
        assert ws.receive_json()["type"] == "ack"


def test_auth_off_by_default(tiny_model_version: Path, tmp_path: Path) -> None:
    with ready_client(make_settings(tiny_model_version, tmp_path)) as client:
        assert client.post("/v1/classify", json=CASE).status_code == 200
        assert client.get("/metrics").status_code == 200
