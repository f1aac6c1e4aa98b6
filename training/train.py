"""``kesu train``: fine-tunes the multi-head classifier and keeps the best dev checkpoint."""

from __future__ import annotations

import json
import logging
import math
import random
import re
import shutil
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from datasets import Dataset
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from service.encoding import CaseEncoder
from training.config import TrainConfig
from training.corpus.dataset import load_corpus, model_inputs
from training.corpus.schema import load_label_schema
from training.metrics import macro_f1
from training.model import MultiHeadClassifier, load_base_encoder

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
BEST_DIR = "best"
STATE_FILE = "trainer_state.json"
# An encoder layer's parameters, e.g. ``encoder.layer.3.attention.self.query.weight``.
LAYER_PARAMETER = re.compile(r"(?:^|\.)layer\.(\d+)\.")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_tokenizer_path(base_model: str) -> Path:
    path = Path(base_model) / "tokenizer.json"
    if path.is_file():
        return path
    from huggingface_hub import hf_hub_download  # only for users with a hub

    return Path(hf_hub_download(base_model, "tokenizer.json"))


def label_ids(split: Dataset, heads: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Label ids per head; unlabeled cases get ``IGNORE_INDEX`` and add no loss."""
    out = {}
    for head, labels in heads.items():
        index = {label: i for i, label in enumerate(labels)}
        out[head] = np.array(
            [index[v] if v is not None else IGNORE_INDEX for v in split[head]], dtype=np.int64
        )
    return out


def class_weights(ids: np.ndarray, n_labels: int, scheme: str) -> torch.Tensor | None:
    if scheme == "none":
        return None
    counts = np.bincount(ids[ids != IGNORE_INDEX], minlength=n_labels).astype(float)
    counts = np.maximum(counts, 1.0)
    weights = 1.0 / counts if scheme == "inverse" else 1.0 / np.sqrt(counts)
    # Normalized to mean 1 so the loss scale does not depend on the scheme.
    return torch.tensor(weights * n_labels / weights.sum(), dtype=torch.float32)


class Batches:
    """Encodes a split once, then serves length-sorted chunks so padding stays small."""

    def __init__(self, split: Dataset, encoder: CaseEncoder, labels: dict[str, np.ndarray]) -> None:
        self.rows = encoder.content_ids(split["model_input"])
        self.keep_end = list(split["is_dialogue"])
        # Lengths after truncation: what padding costs, so what batches are sorted by.
        self.lengths = [min(len(row), encoder.content_budget) for row in self.rows]
        self.encoder = encoder
        self.labels = labels

    def __len__(self) -> int:
        return len(self.rows)

    def collate(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        batch = self.encoder.pack([self.rows[i] for i in indices], [self.keep_end[i] for i in indices])
        targets = {h: torch.from_numpy(v[indices]) for h, v in self.labels.items()}
        return torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask), targets

    def training_order(self, batch_size: int, rng: random.Random) -> list[list[int]]:
        """Shuffled batches of similar length: shuffle, sort within pools of 50 batches, shuffle batches."""
        order = list(range(len(self.rows)))
        rng.shuffle(order)
        pool = batch_size * 50
        batches: list[list[int]] = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start : start + pool], key=lambda i: self.lengths[i])
            batches.extend(chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size))
        rng.shuffle(batches)
        return batches

    def eval_order(self, batch_size: int) -> list[list[int]]:
        order = sorted(range(len(self.rows)), key=lambda i: self.lengths[i])
        return [order[k : k + batch_size] for k in range(0, len(order), batch_size)]


@torch.no_grad()
def predict(model: MultiHeadClassifier, batches: Batches, batch_size: int) -> dict[str, np.ndarray]:
    """Softmax probabilities per head, in the split's original order."""
    model.eval()
    probs: dict[str, np.ndarray] = {
        h: np.zeros((len(batches), len(labels)), dtype=np.float32) for h, labels in model.head_labels.items()
    }
    for indices in batches.eval_order(batch_size):
        input_ids, mask, _ = batches.collate(indices)
        for head, logits in zip(model.head_labels, model(input_ids, mask), strict=True):
            probs[head][indices] = torch.softmax(logits, dim=-1).numpy()
    return probs


def dev_scores(probs: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> dict[str, float]:
    scores = {}
    for head, p in probs.items():
        keep = labels[head] != IGNORE_INDEX
        scores[head] = macro_f1(labels[head][keep], p[keep].argmax(axis=1), p.shape[1]) if keep.any() else 0.0
    scores["mean_macro_f1"] = float(np.mean(list(scores.values())))
    return scores


def teacher_probabilities(teacher: str, split: Dataset) -> dict[str, torch.Tensor]:
    """The teacher version's fp32 probabilities on ``split``, per head, in split order."""
    from service.model_version import load_model_version
    from service.predictor import Predictor

    predictor = Predictor(load_model_version(teacher), precision="fp32")
    probs = predictor.probabilities(model_inputs(split))
    return {h: torch.tensor(p, dtype=torch.float32) for h, p in probs.items()}


def distillation_loss(logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) at ``temperature``, scaled by T² so its gradients match the gold loss."""
    # Soften the teacher by re-tempering its log-probabilities, as its logits are not kept.
    soft_teacher = torch.softmax(torch.log(teacher_probs.clamp_min(1e-8)) / temperature, dim=-1)
    log_student = torch.log_softmax(logits / temperature, dim=-1)
    kl = torch.nn.functional.kl_div(log_student, soft_teacher, reduction="batchmean")
    return kl * temperature**2


def encoder_depth(name: str, num_layers: int) -> int:
    """Steps below the top layer: 0 for the top layer (and a pooler), ``num_layers`` for embeddings."""
    if name.startswith("embeddings."):
        return num_layers
    match = LAYER_PARAMETER.search(name)
    return num_layers - 1 - int(match.group(1)) if match else 0


def build_optimizer(model: MultiHeadClassifier, config: TrainConfig) -> torch.optim.Optimizer:
    if config.freeze_embeddings:
        model.encoder.get_input_embeddings().weight.requires_grad_(False)
    num_layers = int(model.encoder.config.num_hidden_layers)
    # One group per depth, so the scheduler scales every group's own rate.
    by_depth: dict[int, list[torch.nn.Parameter]] = {}
    for name, param in model.encoder.named_parameters():
        if param.requires_grad:
            by_depth.setdefault(encoder_depth(name, num_layers), []).append(param)
    groups: list[dict[str, Any]] = [
        {"params": params, "lr": config.learning_rate * config.layer_lr_decay**depth}
        for depth, params in sorted(by_depth.items())
    ]
    groups.append({"params": list(model.heads.parameters()), "lr": config.head_learning_rate})
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay)


def train(config: TrainConfig) -> dict[str, Any]:
    """Trains per ``config``; returns the trainer state (best step, dev scores, timings)."""
    heads = load_label_schema()
    unknown_heads = sorted(set(config.head_loss_weights) - set(heads))
    if unknown_heads:
        raise ValueError(f"head_loss_weights names unknown heads {unknown_heads}; heads are {list(heads)}")
    seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    out_dir = Path(config.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus(config.data_dir, list(heads), splits=("train", "dev"))
    tokenizer_path = resolve_tokenizer_path(config.base_model)
    encoder = CaseEncoder.from_file(tokenizer_path, config.max_length)
    train_labels = label_ids(corpus["train"], heads)
    dev_labels = label_ids(corpus["dev"], heads)
    train_batches = Batches(corpus["train"], encoder, train_labels)
    dev_batches = Batches(corpus["dev"], encoder, dev_labels)

    model = MultiHeadClassifier(
        load_base_encoder(config.base_model, config.num_layers), heads, config.dropout
    )
    weights = {
        h: class_weights(train_labels[h], len(labels), config.class_weighting) for h, labels in heads.items()
    }
    losses = {h: torch.nn.CrossEntropyLoss(weight=weights[h], ignore_index=IGNORE_INDEX) for h in heads}
    head_weight = {h: config.head_loss_weights.get(h, 1.0) for h in heads}
    soft_targets = teacher_probabilities(config.teacher, corpus["train"]) if config.teacher else None
    gold_share = 1.0 - config.distill_weight if soft_targets else 1.0

    steps_per_epoch = math.ceil(len(train_batches) / config.batch_size)
    total_steps = config.max_steps or math.ceil(steps_per_epoch * config.epochs)
    optimizer = build_optimizer(model, config)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(config.warmup_ratio * total_steps), total_steps
    )
    # The live weights and, when set, their moving average both compete for the best dev checkpoint.
    candidates = {"live": model}
    averaged = None
    if config.ema_decay:
        # Buffers (position ids) are not averaged: rounding an average of integers corrupts them.
        averaged = AveragedModel(
            model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=False
        )
        candidates["ema"] = cast(MultiHeadClassifier, averaged.module)
    rng = random.Random(config.seed)
    logger.info("training %d cases, %d dev, %d steps", len(train_batches), len(dev_batches), total_steps)

    state: dict[str, Any] = {
        "best_step": None,
        "best_dev": None,
        "best_weights": None,
        "history": [],
        "total_steps": total_steps,
    }
    best_score = -1.0
    started = time.time()
    step = 0
    progress = tqdm(total=total_steps, desc="train", unit="step")
    while step < total_steps:
        for indices in train_batches.training_order(config.batch_size, rng):
            model.train()
            input_ids, mask, targets = train_batches.collate(indices)
            outputs = model(input_ids, mask)
            loss = sum(
                (
                    head_weight[h] * gold_share * losses[h](logits, targets[h])
                    for h, logits in zip(heads, outputs, strict=True)
                    if (targets[h] != IGNORE_INDEX).any()
                ),
                start=torch.zeros(()),
            )
            if soft_targets is not None:
                for h, logits in zip(heads, outputs, strict=True):
                    soft = soft_targets[h][indices]
                    loss = loss + head_weight[h] * config.distill_weight * distillation_loss(
                        logits, soft, config.distill_temperature
                    )
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            if averaged is not None:
                averaged.update_parameters(model)
            step += 1
            progress.update(1)
            progress.set_postfix(loss=f"{loss.item():.3f}")
            if step % config.eval_every_steps == 0 or step == total_steps:
                scores = {
                    name: dev_scores(predict(candidate, dev_batches, config.eval_batch_size), dev_labels)
                    for name, candidate in candidates.items()
                }
                state["history"].append({"step": step, "loss": float(loss.item()), **scores})
                logger.info("step %d dev %s", step, json.dumps(scores))
                name = max(scores, key=lambda n: scores[n]["mean_macro_f1"])
                if scores[name]["mean_macro_f1"] > best_score:
                    best_score = scores[name]["mean_macro_f1"]
                    state.update(best_step=step, best_dev=scores[name], best_weights=name)
                    save_checkpoint(candidates[name], config, tokenizer_path, out_dir / BEST_DIR)
                # Written at every evaluation so a long run can be followed and survives a kill.
                write_state(out_dir, state)
            if step >= total_steps:
                break
    progress.close()
    state["train_seconds"] = round(time.time() - started, 1)
    write_state(out_dir, state)
    shutil.copy(out_dir / STATE_FILE, out_dir / BEST_DIR / STATE_FILE)
    return state


def write_state(out_dir: Path, state: dict[str, Any]) -> None:
    (out_dir / STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")


def save_checkpoint(
    model: MultiHeadClassifier, config: TrainConfig, tokenizer_path: Path, folder: Path
) -> None:
    model.save(folder)
    config.save(folder)
    shutil.copy(tokenizer_path, folder / "tokenizer.json")
    base_info = Path(config.base_model) / "conversion.json"
    if base_info.is_file():
        shutil.copy(base_info, folder / "base_conversion.json")
