"""Live calls: per-call state in memory and the reply to each utterance of ``WS /v1/stream``.

A customer utterance is classified twice in one model run: alone (its cue, e.g.
its emotion) and as the dialogue so far (the call-level result); the alert rules
then compare the turn with the call's earlier turns. Agent utterances only add
context. Calls are bounded in number (least recently used evicted) and expire
when idle; a call's text is a rolling window of at most ``max_text_chars``.
Call state outlives a WebSocket, so a client may reconnect and go on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from service.alerts import TurnOutcome, detect_alert
from service.batching import MicroBatcher
from service.cases import ModelInput, Turn, case_to_text
from service.engine import Engine, head_result
from service.errors import ApiError, ErrorDetail, error_content, validation_detail
from service.metrics import Metrics
from service.predictor import Prediction
from service.privacy import loggable_text
from service.schemas import (
    Alert,
    ClassifyResult,
    CueResult,
    StreamAck,
    StreamEnd,
    StreamEnded,
    StreamResult,
    StreamUtterance,
    text_too_long,
)

logger = logging.getLogger(__name__)


@dataclass
class CallState:
    """One live call: its recent turns, its recent customer-turn outcomes and when it was last seen."""

    history_turns: int
    turns: deque[Turn] = field(default_factory=deque)
    chars: int = 0
    utterances: int = 0
    outcomes: deque[TurnOutcome] = field(init=False)
    last_seen: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.outcomes = deque(maxlen=self.history_turns)

    def add_turn(self, turn: Turn, max_chars: int) -> None:
        """Appends a turn, dropping the oldest ones beyond ``max_chars`` (the model keeps the end anyway)."""
        self.turns.append(turn)
        self.chars += len(turn.text)
        self.utterances += 1
        while self.chars > max_chars and len(self.turns) > 1:
            self.chars -= len(self.turns.popleft().text)


class CallStore:
    """Calls by id, least recently used first; bounded in number and expiring when idle."""

    def __init__(
        self, max_calls: int, idle_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_calls = max_calls
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._calls: OrderedDict[str, CallState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, call_id: str) -> bool:
        return call_id in self._calls

    def expire(self) -> int:
        """Drops idle calls; cheap because the oldest-seen calls come first."""
        cutoff = self.clock() - self.idle_seconds
        dropped = 0
        while self._calls:
            call_id, state = next(iter(self._calls.items()))
            if state.last_seen > cutoff:
                break
            del self._calls[call_id]
            dropped += 1
        return dropped

    def touch(self, call_id: str, history_turns: int) -> CallState:
        """The call's state (created if new), marked as just seen; evicts the least recently used calls."""
        self.expire()
        state = self._calls.get(call_id)
        if state is None:
            state = CallState(history_turns=history_turns)
            self._calls[call_id] = state
            while len(self._calls) > self.max_calls:
                evicted, _ = self._calls.popitem(last=False)
                logger.info("evicted live call %s (more than %d calls)", evicted, self.max_calls)
        else:
            self._calls.move_to_end(call_id)
        state.last_seen = self.clock()
        return state

    def end(self, call_id: str) -> CallState | None:
        return self._calls.pop(call_id, None)


def parse_json(raw: str | bytes | None) -> dict[str, Any]:
    """Decodes one socket message into a JSON object; raises ``ApiError`` otherwise."""
    try:
        data = json.loads(raw) if raw is not None else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"message is not valid JSON: {exc}", "message") from exc
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_message", "a message must be a JSON object", "message")
    return data


def parse_message(data: dict[str, Any]) -> StreamUtterance | StreamEnd:
    """Validates a message object; raises ``ApiError`` naming the bad field."""
    model: type[StreamUtterance] | type[StreamEnd] = StreamEnd if "end" in data else StreamUtterance
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        detail = validation_detail(exc.errors())
        raise ApiError(422, detail.code, detail.message, detail.field) from exc


class LiveCalls:
    """Answers the messages of live calls."""

    def __init__(
        self,
        engine: Engine,
        batcher: MicroBatcher[ModelInput, Prediction],
        store: CallStore,
        metrics: Metrics,
        max_text_chars: int,
        log_text: bool = False,
    ) -> None:
        self.engine = engine
        self.batcher = batcher
        self.store = store
        self.metrics = metrics
        self.max_text_chars = max_text_chars
        self.log_text = log_text

    async def handle(self, raw: str | bytes | None) -> dict[str, Any]:
        """The reply to one raw message: a result, an ack, an end confirmation or an error; never raises."""
        call_id = None
        try:
            data = parse_json(raw)
            call_id = data.get("call_id") if isinstance(data.get("call_id"), str) else None
            message = parse_message(data)
            if isinstance(message, StreamEnd):
                return self._end(message)
            if len(message.text) > self.max_text_chars:
                raise text_too_long("text", self.max_text_chars)
            if message.role == "customer":
                return await self._customer(message)
            return self._agent(message)
        except ApiError as exc:
            self.metrics.stream_messages.labels("error").inc()
            return {"type": "error", "call_id": call_id, **error_content(exc.detail)}
        except Exception:
            logger.exception("live call %s: failed to answer a message", call_id)
            self.metrics.stream_messages.labels("error").inc()
            detail = ErrorDetail(code="internal_error", message="could not classify this utterance")
            return {"type": "error", "call_id": call_id, **error_content(detail)}
        finally:
            self.metrics.stream_calls.set(len(self.store))

    def _end(self, message: StreamEnd) -> dict[str, Any]:
        state = self.store.end(message.call_id)
        self.metrics.stream_messages.labels("end").inc()
        return StreamEnded(call_id=message.call_id, turns=state.utterances if state else 0).model_dump()

    def _agent(self, message: StreamUtterance) -> dict[str, Any]:
        state = self.store.touch(message.call_id, self.engine.alerts.history_needed)
        state.add_turn(Turn(role="agent", text=message.text), self.max_text_chars)
        self.metrics.stream_messages.labels("agent").inc()
        return StreamAck(call_id=message.call_id, turn=state.utterances).model_dump()

    async def _customer(self, message: StreamUtterance) -> dict[str, Any]:
        rules = self.engine.alerts
        state = self.store.touch(message.call_id, rules.history_needed)
        async with state.lock:
            state.add_turn(Turn(role="customer", text=message.text), self.max_text_chars)
            turn = state.utterances
            utterance, _ = case_to_text({"text": message.text})
            call_text, _ = case_to_text({"dialogue": list(state.turns)})
            alone, whole = await self.batcher.submit([(utterance, False), (call_text, True)])
            call = self.engine.result(whole, message.call_id)
            outcome = TurnOutcome(
                cue_label=alone[rules.cue_head].label,
                labels={head: p.label for head, p in whole.items()},
                scores={head: p.scores for head, p in whole.items()},
                priority=call["routing"]["priority"],
            )
            triggers = detect_alert(list(state.outcomes), outcome, rules)
            state.outcomes.append(outcome)
        self.metrics.stream_messages.labels("customer").inc()
        alert = None
        if triggers:
            for trigger in triggers:
                self.metrics.stream_alerts.labels(trigger.kind).inc()
            alert = Alert(turn=turn, message="; ".join(t.message for t in triggers), triggers=triggers)
            logger.info("live call %s turn %d alert: %s", message.call_id, turn, alert.message)
        logger.debug(
            "live call %s turn %d: %s", message.call_id, turn, loggable_text(message.text, self.log_text)
        )
        return StreamResult(
            call_id=message.call_id,
            turn=turn,
            cue=CueResult(head=rules.cue_head, **head_result(alone[rules.cue_head])),
            call=ClassifyResult.model_validate(call),
            alert=alert,
        ).model_dump()
