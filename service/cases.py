"""What a case is, and how it becomes the one string the model reads.

Training, evaluation and serving all call :func:`case_to_text`, so a dialogue is
seen by the model in exactly the same form everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# A model input string and whether to keep its end when truncating, as ``case_to_text`` returns them.
ModelInput = tuple[str, bool]

ROLES = ("customer", "agent")
ROLE_MARKERS = {"customer": "客户：", "agent": "客服："}
TURN_SEPARATOR = " "


@dataclass(frozen=True)
class Turn:
    role: str
    text: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {list(ROLES)}, got {self.role!r}")


def serialize_dialogue(turns: Sequence[Turn]) -> str:
    """Joins turns oldest first, each behind its speaker marker."""
    return TURN_SEPARATOR.join(ROLE_MARKERS[t.role] + t.text.strip() for t in turns)


def case_to_text(case: Mapping[str, Any]) -> ModelInput:
    """Returns the model input string of a case and whether it is a dialogue.

    Dialogues are truncated from the left (the latest customer turns weigh most),
    single texts from the right.
    """
    dialogue = case.get("dialogue")
    if dialogue:
        turns = [t if isinstance(t, Turn) else Turn(role=t["role"], text=t["text"]) for t in dialogue]
        return serialize_dialogue(turns), True
    text = case.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a case needs a non-empty 'text' or a non-empty 'dialogue'")
    return text.strip(), False
