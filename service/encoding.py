"""Turns cases into padded token-id arrays with the version's fast tokenizer.

One code path for training, evaluation and serving: dialogues keep their latest
turns when too long, single texts keep their beginning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from service.cases import ModelInput


@dataclass
class EncodedBatch:
    input_ids: np.ndarray  # int64 [batch, seq]
    attention_mask: np.ndarray  # int64 [batch, seq]

    @property
    def lengths(self) -> np.ndarray:
        return np.asarray(self.attention_mask.sum(axis=1))


class CaseEncoder:
    """Tokenizes model input strings into ``EncodedBatch`` arrays."""

    def __init__(self, tokenizer: Tokenizer, max_length: int) -> None:
        if max_length < 8:
            raise ValueError(f"max_length must be at least 8, got {max_length}")
        self.tokenizer = tokenizer
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.max_length = max_length
        self.cls_id = self._special_id(("<s>", "[CLS]"))
        self.sep_id = self._special_id(("</s>", "[SEP]"))
        self.pad_id = self._special_id(("<pad>", "[PAD]"))

    @classmethod
    def from_file(cls, path: str | Path, max_length: int) -> CaseEncoder:
        return cls(Tokenizer.from_file(str(path)), max_length)

    @property
    def content_budget(self) -> int:
        """Content tokens a row keeps: ``max_length`` less ``<s>`` and ``</s>``."""
        return self.max_length - 2

    def _special_id(self, candidates: Sequence[str]) -> int:
        for token in candidates:
            token_id = self.tokenizer.token_to_id(token)
            if token_id is not None:
                return int(token_id)
        raise ValueError(f"tokenizer has none of the special tokens {list(candidates)}")

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text without special tokens."""
        return [enc.ids for enc in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def encode(self, texts: Sequence[str], keep_end: Sequence[bool] | None = None) -> EncodedBatch:
        """Encodes texts to ``<s> content </s>`` padded to the longest row.

        Args:
            texts: model input strings (see ``service.cases.case_to_text``).
            keep_end: per text, truncate from the left (dialogues) instead of the right.
        """
        return self.pack(self.content_ids(texts), keep_end)

    def encode_inputs(self, inputs: Sequence[ModelInput]) -> EncodedBatch:
        """Encodes ``(text, keep_end)`` pairs as ``encode`` does."""
        return self.encode([text for text, _ in inputs], keep_end=[keep_end for _, keep_end in inputs])

    def pack(
        self, content_ids: Sequence[Sequence[int]], keep_end: Sequence[bool] | None = None
    ) -> EncodedBatch:
        """Truncates and pads rows of content ids (from ``content_ids``) like ``encode`` does.

        Lets a caller tokenize once, look at the lengths (e.g. to bucket rows of similar
        length together), then pack each bucket.
        """
        keep_end = keep_end if keep_end is not None else [False] * len(content_ids)
        budget = self.content_budget
        rows = []
        for ids, from_left in zip(content_ids, keep_end, strict=True):
            if len(ids) > budget:
                ids = ids[-budget:] if from_left else ids[:budget]
            rows.append([self.cls_id, *ids, self.sep_id])
        width = max((len(r) for r in rows), default=2)
        input_ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
            attention_mask[i, : len(row)] = 1
        return EncodedBatch(input_ids=input_ids, attention_mask=attention_mask)
