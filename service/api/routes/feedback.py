"""``POST /v1/feedback``: corrected labels, stored durably for retraining."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, status

from service.api.body import Utf8BodyRoute
from service.api.deps import EngineDep, FeedbackStoreDep, MetricsDep, SettingsDep
from service.api.responses import ERROR_RESPONSES
from service.errors import ApiError
from service.schemas import FeedbackIn, FeedbackOut

router = APIRouter(prefix="/v1", tags=["feedback"], route_class=Utf8BodyRoute)


def check_feedback_labels(labels: Mapping[str, str], heads: Mapping[str, list[str]]) -> None:
    for head, label in labels.items():
        if head not in heads:
            raise ApiError(
                422, "unknown_head", f"unknown head {head!r}; heads are {list(heads)}", f"labels.{head}"
            )
        if label not in heads[head]:
            raise ApiError(
                422,
                "unknown_label",
                f"{label!r} is not a {head} label; allowed {heads[head]}",
                f"labels.{head}",
            )


@router.post(
    "/feedback", status_code=status.HTTP_201_CREATED, response_model=FeedbackOut, responses=ERROR_RESPONSES
)
def add_feedback(
    body: FeedbackIn, engine: EngineDep, store: FeedbackStoreDep, settings: SettingsDep, metrics: MetricsDep
) -> FeedbackOut:
    """Stores a case with corrected labels for any subset of heads; the text is masked first."""
    body.check_limits(settings.max_text_chars)
    check_feedback_labels(body.labels, engine.version.heads)
    record = store.add(
        labels=body.labels,
        text=body.text,
        dialogue=[turn.model_dump() for turn in body.dialogue] if body.dialogue else None,
        case_id=body.id,
        note=body.note,
        model_version=engine.version.name,
    )
    metrics.feedback.inc()
    return FeedbackOut(feedback_id=record.feedback_id, created_at=record.created_at)
