"""Property-based fuzz of the HTTP API: whatever the body, never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.service_support import make_settings, ready_client

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
texts = st.text(max_size=60) | st.sampled_from(["", " ", "快递还没到", "\x00", "😡😡", "a" * 300])
turns = st.fixed_dictionaries(
    {"role": st.sampled_from(["customer", "agent", "boss", ""]) | json_values, "text": texts}
)
cases = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=10) | json_values,
        "text": texts | json_values,
        "dialogue": st.lists(turns, max_size=4) | json_values,
    },
)
classify_bodies = cases | json_values
batch_bodies = st.fixed_dictionaries({"items": st.lists(cases | json_values, max_size=6)}) | json_values
# JSON that Python accepts but a strict encoder never writes, and other corner cases.
TRICKY = [
    b"NaN",
    b'{"text": NaN}',
    b'{"items": [{"text": Infinity}]}',
    b"1e999",
    b'{"text": "\\ud800"}',
    b'{"text": "a", "text": ""}',
    b'{"items": [' + b'{"text": "a"},' * 300 + b'{"text": "a"}]}',
    b"[" * 5000,
]
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def client(tiny_model_version: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with ready_client(make_settings(tiny_model_version, tmp_path_factory.mktemp("fuzz"))) as client:
        yield client


def check(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)


@FUZZ
@given(body=classify_bodies)
def test_classify_never_5xx(client: TestClient, body: Any) -> None:
    check(client.post("/v1/classify", json=body))


@FUZZ
@given(body=batch_bodies)
def test_batch_never_5xx(client: TestClient, body: Any) -> None:
    check(client.post("/v1/classify/batch", json=body))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=80) | st.text(max_size=80).map(str.encode) | st.sampled_from(TRICKY))
def test_raw_bytes_never_5xx(client: TestClient, raw: bytes) -> None:
    for path in ("/v1/classify", "/v1/classify/batch"):
        check(client.post(path, content=raw, headers={"content-type": "application/json"}))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=json_values | cases)
def test_stream_never_breaks(client: TestClient, message: Any) -> None:
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps(message))
        reply = ws.receive_json()
        assert reply["type"] in ("result", "ack", "ended", "error")
        assert reply.get("error", {}).get("code") != "internal_error"
