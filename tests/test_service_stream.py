from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.cases import Turn
from service.errors import ApiError
from service.routing import default_routing
from service.stream import CallState, CallStore, parse_json, parse_message
from tests.service_support import assert_result_shape, heads_of, make_settings, ready_client


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_call_store_evicts_least_recently_used() -> None:
    store = CallStore(max_calls=2, idle_seconds=60)
    store.touch("a", 4)
    store.touch("b", 4)
    store.touch("a", 4)  # a is now the most recent
    store.touch("c", 4)
    assert "a" in store and "c" in store and "b" not in store
    assert len(store) == 2


def test_call_store_expires_idle_calls() -> None:
    clock = FakeClock()
    store = CallStore(max_calls=10, idle_seconds=30, clock=clock)
    store.touch("old", 4)
    clock.now += 20
    store.touch("recent", 4)
    clock.now += 15  # old idle 35 s, recent 15 s
    assert store.expire() == 1
    assert "old" not in store and "recent" in store


def test_call_store_end_drops_state() -> None:
    store = CallStore(max_calls=10, idle_seconds=30)
    store.touch("a", 4).add_turn(Turn(role="customer", text="你好"), 100)
    ended = store.end("a")
    assert ended is not None and ended.utterances == 1
    assert "a" not in store and store.end("a") is None


def test_call_text_is_a_rolling_window() -> None:
    state = CallState(history_turns=4)
    for i in range(10):
        state.add_turn(Turn(role="customer", text=f"{i}" * 10), max_chars=35)
    assert [t.text[0] for t in state.turns] == ["7", "8", "9"]
    assert state.chars == 30 and state.utterances == 10


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("not json", "message"),
        ("[1, 2]", "message"),
        (b"\xff\xfe", "message"),
        (None, "message"),
        ('{"role": "customer", "text": "hi"}', "call_id"),
        ('{"call_id": "c", "role": "boss", "text": "hi"}', "role"),
        ('{"call_id": "c", "role": "customer", "text": "  "}', "text"),
        ('{"call_id": "c", "role": "customer", "text": 3}', "text"),
        ('{"call_id": "c", "end": false}', "end"),
        ('{"call_id": 5, "role": "agent", "text": "hi"}', "call_id"),
    ],
)
def test_bad_messages_name_the_field(raw: Any, field: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse_message(parse_json(raw))
    assert raised.value.detail.field == field


@pytest.fixture(scope="module")
def client(tiny_model_version: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("stream")
    heads = heads_of(tiny_model_version)
    routing = default_routing()
    cue_head = routing["alerts"]["cue_head"]
    # Only one rule, which fires whatever a random model predicts: any cue on 2 customer turns in a row.
    routing["alerts"] = {"cue_head": cue_head, "consecutive_cues": [{"labels": heads[cue_head], "turns": 2}]}
    routing_file = tmp / "routing.json"
    routing_file.write_text(json.dumps(routing, ensure_ascii=False), encoding="utf-8")
    settings = make_settings(tiny_model_version, tmp, routing_file=routing_file, stream_max_calls=3)
    with ready_client(settings) as client:
        yield client


def send(ws: Any, message: Any) -> dict[str, Any]:
    ws.send_text(message if isinstance(message, str) else json.dumps(message, ensure_ascii=False))
    reply: dict[str, Any] = ws.receive_json()
    return reply


def test_customer_and_agent_turns(client: TestClient, tiny_model_version: Path) -> None:
    heads = heads_of(tiny_model_version)
    cue_head = default_routing()["alerts"]["cue_head"]
    with client.websocket_connect("/v1/stream") as ws:
        first = send(ws, {"call_id": "call-1", "role": "customer", "text": "快递五天了还没到"})
        assert first["type"] == "result" and first["call_id"] == "call-1" and first["turn"] == 1
        assert first["cue"]["head"] == cue_head
        assert set(first["cue"]["scores"]) == set(heads[cue_head])
        assert sum(first["cue"]["scores"].values()) == pytest.approx(1.0)
        assert first["call"]["id"] == "call-1"
        assert_result_shape(first["call"], heads)
        assert first["alert"] is None

        ack = send(ws, {"call_id": "call-1", "role": "agent", "text": "请您稍等，我帮您查一下"})
        assert ack == {"type": "ack", "call_id": "call-1", "turn": 2}

        second = send(ws, {"call_id": "call-1", "role": "customer", "text": "都等了五天了，我要投诉"})
        assert second["turn"] == 3


def test_call_result_is_the_dialogue_so_far_and_cue_the_utterance_alone(client: TestClient) -> None:
    turns = [
        {"role": "customer", "text": "退款怎么还没到账"},
        {"role": "agent", "text": "三个工作日内到账"},
        {"role": "customer", "text": "上次也是这么说的"},
    ]
    with client.websocket_connect("/v1/stream") as ws:
        for turn in turns:
            reply = send(ws, {"call_id": "call-same", **turn})
    whole = client.post("/v1/classify", json={"dialogue": turns}).json()
    alone = client.post("/v1/classify", json={"text": turns[-1]["text"]}).json()
    cue_head = reply["cue"]["head"]
    # The socket runs both texts in one int8 batch, so scores match only up to activation quantization.
    for head, result in whole.items():
        if isinstance(result, dict) and "scores" in result:
            assert reply["call"][head]["scores"] == pytest.approx(result["scores"], abs=0.05)
    assert reply["cue"]["scores"] == pytest.approx(alone[cue_head]["scores"], abs=0.05)


def test_alert_fires_on_the_second_consecutive_cue(client: TestClient) -> None:
    with client.websocket_connect("/v1/stream") as ws:
        replies = [
            send(ws, {"call_id": "call-alert", "role": "customer", "text": text})
            for text in ("怎么还没发货", "你们到底怎么回事！！", "我要投诉到12315")
        ]
    assert replies[0]["alert"] is None
    alert = replies[1]["alert"]
    assert alert["turn"] == 2
    assert [t["kind"] for t in alert["triggers"]] == ["consecutive_cue"]
    assert "2 consecutive customer turns" in alert["message"]
    assert replies[2]["alert"] is None  # the same streak does not alert again
    assert 'kesu_stream_alerts_total{kind="consecutive_cue"}' in client.get("/metrics").text


def test_bad_messages_get_an_error_and_the_socket_stays_open(client: TestClient) -> None:
    with client.websocket_connect("/v1/stream") as ws:
        assert send(ws, "not json")["error"]["code"] == "invalid_json"
        error = send(ws, {"call_id": "call-bad", "role": "boss", "text": "hi"})
        assert (
            error["type"] == "error" and error["call_id"] == "call-bad" and error["error"]["field"] == "role"
        )
        assert send(ws, {"call_id": "call-bad", "role": "customer", "text": ""})["error"]["field"] == "text"
        too_long = send(ws, {"call_id": "call-bad", "role": "customer", "text": "长" * 5001})
        assert too_long["error"]["code"] == "text_too_long"
        ws.send_bytes(b"\xff\x00")
        assert ws.receive_json()["type"] == "error"
        assert send(ws, {"call_id": "call-bad", "role": "customer", "text": "现在好了"})["turn"] == 1


def test_end_closes_the_call(client: TestClient) -> None:
    with client.websocket_connect("/v1/stream") as ws:
        send(ws, {"call_id": "call-end", "role": "customer", "text": "你好"})
        send(ws, {"call_id": "call-end", "role": "agent", "text": "您好"})
        assert send(ws, {"call_id": "call-end", "end": True}) == {
            "type": "ended",
            "call_id": "call-end",
            "turns": 2,
        }
        assert send(ws, {"call_id": "call-end", "role": "customer", "text": "又是我"})["turn"] == 1


def test_call_state_survives_a_reconnect_and_is_bounded(client: TestClient) -> None:
    with client.websocket_connect("/v1/stream") as ws:
        send(ws, {"call_id": "call-re", "role": "customer", "text": "第一句"})
    with client.websocket_connect("/v1/stream") as ws:
        assert send(ws, {"call_id": "call-re", "role": "agent", "text": "在的"})["turn"] == 2
        for i in range(3):  # the app holds 3 calls: call-re is evicted
            send(ws, {"call_id": f"call-fill-{i}", "role": "agent", "text": "您好"})
        assert send(ws, {"call_id": "call-re", "role": "agent", "text": "还在吗"})["turn"] == 1
