"""Builds a tiny randomly initialised BERT with a small Chinese vocabulary, for pipeline tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel

from training.base_model import METASPACE, SPECIAL_TOKENS, build_tokenizer

CORPUS_DIR = Path(__file__).parent / "data" / "tiny_corpus"
EXTRA_TEXT = (
    "您好请问亲的了是不我你们这个那什么怎么还没到钱退款快递发货质量客服投诉谢谢！？，。：0123456789abcxyz"
)


def tiny_vocabulary() -> list[str]:
    chars: set[str] = set(EXTRA_TEXT)
    for path in CORPUS_DIR.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            chars.update(ch for ch in line if not ch.isspace())
    return [*SPECIAL_TOKENS, METASPACE, *sorted(chars)]


def build_tiny_base(folder: Path, seed: int = 0) -> Path:
    """Writes config, random weights and a unigram tokenizer over single characters."""
    torch.manual_seed(seed)
    pieces = tiny_vocabulary()
    scores = np.full(len(pieces), -5.0, dtype=np.float32)
    config = BertConfig(
        vocab_size=len(pieces),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=pieces.index("<pad>"),
    )
    model = BertModel(config, add_pooling_layer=False)
    folder.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(folder)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    build_tokenizer(pieces, scores, normalization={}).save(str(folder / "tokenizer.json"))
    (folder / "conversion.json").write_text(
        json.dumps({"source": "tiny random test model"}), encoding="utf-8"
    )
    return folder
