"""Request and response bodies of the HTTP and WebSocket API (see docs/API.md).

Label and head names are data of the loaded model version, so heads appear as
extra keys of ``ClassifyResult`` rather than as declared fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from service.cases import ROLES, ModelInput, case_to_text
from service.errors import ApiError

MAX_ID_CHARS = 256


def check_text(value: str) -> str:
    """Rejects blank text and text that cannot be encoded as UTF-8 (lone surrogates from JSON escapes)."""
    if not value.strip():
        raise ValueError("text must not be empty or whitespace")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text is not valid Unicode (lone surrogate)") from exc
    return value


def check_role(value: str) -> str:
    if value not in ROLES:
        raise ValueError(f"role must be one of {list(ROLES)}")
    return value


Text = Annotated[str, AfterValidator(check_text)]
Role = Annotated[str, AfterValidator(check_role), Field(json_schema_extra={"enum": list(ROLES)})]


def text_too_long(field: str, limit: int) -> ApiError:
    return ApiError(422, "text_too_long", f"text is longer than {limit} characters", field)


class TurnIn(BaseModel):
    role: Role
    text: Text


class CaseIn(BaseModel):
    """One case: exactly one of ``text`` or ``dialogue``, plus an optional echoed ``id``."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "T-1", "text": "快递五天了还没到，客服也不回消息"}]}
    )

    id: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    text: Text | None = None
    dialogue: list[TurnIn] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> CaseIn:
        if (self.text is None) == (self.dialogue is None):
            field = "text" if self.text is None else "dialogue"
            raise PydanticCustomError(
                "text_or_dialogue", "give exactly one of 'text' or 'dialogue'", {"field": field}
            )
        return self

    def check_limits(self, max_chars: int, prefix: str = "") -> None:
        """Raises ``ApiError`` naming the field when a text, a turn or a whole dialogue is too long."""
        if self.text is not None:
            if len(self.text) > max_chars:
                raise text_too_long(f"{prefix}text", max_chars)
            return
        total = 0
        for i, turn in enumerate(self.dialogue or ()):
            if len(turn.text) > max_chars:
                raise text_too_long(f"{prefix}dialogue.{i}.text", max_chars)
            total += len(turn.text)
        if total > max_chars:
            raise ApiError(
                422,
                "text_too_long",
                f"dialogue texts together exceed {max_chars} characters",
                f"{prefix}dialogue",
            )

    def as_case(self) -> dict[str, Any]:
        """The case as a plain mapping (the corpus format without labels)."""
        if self.dialogue is not None:
            return {"dialogue": [turn.model_dump() for turn in self.dialogue]}
        return {"text": self.text}

    def to_input(self) -> ModelInput:
        """The model input string and whether to keep its end when truncating."""
        return case_to_text(self.as_case())


class BatchRequest(BaseModel):
    items: list[CaseIn] = Field(min_length=1)


class HeadResult(BaseModel):
    label: str
    score: float
    scores: dict[str, float]


class RoutingResult(BaseModel):
    department: str
    priority: str
    response_sla_hours: int | float
    resolution_sla_hours: int | float


class ClassifyResult(BaseModel):
    """A result: ``id``, ``model_version``, ``routing`` and one ``HeadResult`` per head of the version."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, HeadResult] = Field(init=False)

    id: str | None = None
    model_version: str
    routing: RoutingResult


class BatchResponse(BaseModel):
    results: list[ClassifyResult]


class FeedbackIn(CaseIn):
    """A case with corrected labels for any subset of heads."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "T-1", "text": "快递五天了还没到", "labels": {"dissatisfaction": "implicit"}}]
        }
    )

    labels: dict[str, str] = Field(min_length=1)
    note: str | None = Field(default=None, max_length=2000)


class FeedbackOut(BaseModel):
    feedback_id: str
    created_at: str


class ThresholdInfo(BaseModel):
    positive: list[str]
    threshold: float


class ModelInfo(BaseModel):
    version: str
    precision: str
    max_length: int
    heads: dict[str, list[str]]
    thresholds: dict[str, ThresholdInfo]
    metrics: dict[str, Any]
    manifest: dict[str, Any]
    routing: dict[str, Any]


class HealthOut(BaseModel):
    status: str
    model_version: str | None = None


class StreamUtterance(BaseModel):
    """An utterance of a live call."""

    call_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    role: Role
    text: Text


class StreamEnd(BaseModel):
    """Closes a live call and drops its state."""

    call_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    end: Literal[True]


class CueResult(HeadResult):
    head: str


class AlertTrigger(BaseModel):
    kind: str
    head: str | None = None
    message: str


class Alert(BaseModel):
    turn: int
    message: str
    triggers: list[AlertTrigger]


class StreamResult(BaseModel):
    type: Literal["result"] = "result"
    call_id: str
    turn: int
    cue: CueResult
    call: ClassifyResult
    alert: Alert | None


class StreamAck(BaseModel):
    type: Literal["ack"] = "ack"
    call_id: str
    turn: int


class StreamEnded(BaseModel):
    type: Literal["ended"] = "ended"
    call_id: str
    turns: int
