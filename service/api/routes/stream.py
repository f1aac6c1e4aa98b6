"""``WS /v1/stream``: live calls, one JSON message per utterance (see service.stream)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from service.api.deps import RuntimeDep, not_ready
from service.auth import API_KEY_QUERY, is_authorized, presented_key
from service.errors import ErrorDetail, error_content

router = APIRouter(prefix="/v1", tags=["stream"])


@router.websocket("/stream")
async def stream(websocket: WebSocket, runtime: RuntimeDep) -> None:
    await websocket.accept()
    key = presented_key(websocket.headers, websocket.query_params.get(API_KEY_QUERY))
    if not is_authorized(runtime.settings.api_key, key):
        detail = ErrorDetail(code="unauthorized", message="missing or wrong API key")
        await websocket.send_json({"type": "error", "call_id": None, **error_content(detail)})
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
        return
    if runtime.live_calls is None:
        await websocket.send_json(
            {"type": "error", "call_id": None, **error_content(not_ready(runtime).detail)}
        )
        await websocket.close(code=status.WS_1013_TRY_AGAIN_LATER)
        return
    live_calls = runtime.live_calls
    runtime.metrics.stream_connections.inc()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("text") if message.get("text") is not None else message.get("bytes")
            await websocket.send_json(await live_calls.handle(raw))
    except WebSocketDisconnect:
        pass
    finally:
        runtime.metrics.stream_connections.dec()
