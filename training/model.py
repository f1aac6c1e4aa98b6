"""One shared encoder, mean-pooled, with a linear classification head per label head."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel

HEADS_FILE = "heads.json"
WEIGHTS_FILE = "multihead.safetensors"


class MultiHeadClassifier(nn.Module):
    """Encoder + one ``Linear`` per head; ``forward`` returns logits in head order."""

    def __init__(self, encoder: PreTrainedModel, heads: dict[str, list[str]], dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.head_labels = dict(heads)
        self.dropout = nn.Dropout(dropout)
        hidden = int(encoder.config.hidden_size)
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, len(labels)) for name, labels in heads.items()})

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        # Mean over real tokens: how e5 was trained to summarize a text.
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        pooled = self.dropout(pooled)
        return tuple(self.heads[name](pooled) for name in self.head_labels)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.encoder.config.save_pretrained(folder)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / WEIGHTS_FILE))
        (folder / HEADS_FILE).write_text(
            json.dumps(self.head_labels, ensure_ascii=False, indent=2), encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path) -> MultiHeadClassifier:
        heads = json.loads((folder / HEADS_FILE).read_text(encoding="utf-8"))
        encoder = AutoModel.from_config(AutoConfig.from_pretrained(folder), add_pooling_layer=False)
        model = cls(encoder, heads)
        model.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
        return model.eval()


def load_base_encoder(name_or_path: str, num_layers: int | None = None) -> PreTrainedModel:
    """A pretrained encoder from a local folder or hub id, optionally cut to its first ``num_layers``."""
    config = AutoConfig.from_pretrained(name_or_path)
    if num_layers is not None:
        if num_layers > config.num_hidden_layers:
            raise ValueError(
                f"num_layers={num_layers} exceeds the base model's {config.num_hidden_layers} layers"
            )
        config.num_hidden_layers = num_layers
    return AutoModel.from_pretrained(name_or_path, config=config, add_pooling_layer=False)
