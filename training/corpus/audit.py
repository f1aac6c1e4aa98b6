"""Label audit: training cases a trained checkpoint cannot fit, reread blind by annotators.

``python -m training.corpus.audit draw --checkpoint runs/<run>/best --round N`` predicts the
training split and writes a question for every case whose prediction differs from its label on an
audited head: the two labels in random order, neither marked (``audit/round_N/cases_*.jsonl``),
with the key of which is the corpus label kept apart (``key.jsonl``). Annotators answer each
question by reading (``decisions_*.jsonl``: ``choice``, ``clear``, ``rule``, ``reason``).
``python -m training.corpus.audit apply --round N`` turns the clear choices that differ from the
corpus label into ``corrections/audit_round_NNN.jsonl``; a judgement call keeps the label.
Only the training split is audited: dev and test labels stay blind to model output.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

from service.encoding import CaseEncoder
from training.config import TrainConfig
from training.corpus.build import ANNOTATION_DIR, AUDIT_CORRECTIONS_PREFIX, CORPUS_DIR
from training.corpus.dataset import read_jsonl, split_from_records, write_jsonl, write_round_robin
from training.corpus.schema import load_label_schema
from training.model import MultiHeadClassifier
from training.train import IGNORE_INDEX, Batches, label_ids, predict

logger = logging.getLogger(__name__)

AUDIT_DIR = "audit"
KEY_FILE = "key.jsonl"
AUDITED_HEADS = ("dissatisfaction", "category", "escalation_risk")
QUESTION_FIELDS = ("text", "dialogue", "industry")
DECISION_FIELDS = ("id", "head", "choice", "clear", "reason")


def audit_round_dir(annotation_dir: Path, round_number: int) -> Path:
    return annotation_dir / AUDIT_DIR / f"round_{round_number}"


def disagreements(
    probs: dict[str, np.ndarray], labels: dict[str, np.ndarray], heads: tuple[str, ...]
) -> list[list[str]]:
    """Per case, the labeled audited heads whose most probable label is not the gold one."""
    wrong = {h: (probs[h].argmax(axis=1) != labels[h]) & (labels[h] != IGNORE_INDEX) for h in heads}
    return [[h for h in heads if wrong[h][i]] for i in range(len(labels[heads[0]]))]


def questions(
    records: list[dict[str, Any]],
    probs: dict[str, np.ndarray],
    flagged: list[list[str]],
    schema: dict[str, list[str]],
    seed: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Questions (each flagged head's two labels as A/B in random order) and their key, shuffled alike."""
    rng = random.Random(seed)
    pairs = []
    for i, (record, heads) in enumerate(zip(records, flagged, strict=True)):
        if not heads:
            continue
        question: dict[str, Any] = {"id": record["id"]}
        question.update({f: record[f] for f in QUESTION_FIELDS if record.get(f)})
        asked, key = {}, {"id": record["id"]}
        for head in heads:
            current = record["labels"][head]
            candidates = [current, schema[head][int(probs[head][i].argmax())]]
            rng.shuffle(candidates)
            asked[head] = {"A": candidates[0], "B": candidates[1]}
            key[head] = current
        question["question"] = asked
        pairs.append((question, key))
    rng.shuffle(pairs)
    return [q for q, _ in pairs], [k for _, k in pairs]


def draw(
    checkpoint: Path, corpus_dir: Path, out_dir: Path, batches: int, seed: int, batch_size: int = 64
) -> list[Path]:
    """Writes the question batches and the key for the training split; returns the batch paths."""
    if out_dir.exists():
        raise FileExistsError(f"audit round {out_dir} exists; rounds are never redrawn, pick a new number")
    schema = load_label_schema()
    model = MultiHeadClassifier.load(checkpoint)
    stale = [h for h in AUDITED_HEADS if model.head_labels.get(h) != schema[h]]
    if stale:
        raise ValueError(
            f"{checkpoint} was trained with other labels than the schema's on {', '.join(stale)}"
        )
    config = TrainConfig.from_file(checkpoint / "train_config.json")
    # Read once: the questions quote the records, and the predictions come in their order.
    records = list(read_jsonl(corpus_dir / "train.jsonl"))
    train_split = split_from_records(records, list(schema))
    labels = label_ids(train_split, schema)
    encoder = CaseEncoder.from_file(checkpoint / "tokenizer.json", config.max_length)
    probs = predict(model, Batches(train_split, encoder, labels), batch_size)
    asked, key = questions(records, probs, disagreements(probs, labels, AUDITED_HEADS), schema, seed)
    if not asked:
        raise ValueError(f"{checkpoint} agrees with every training label on {', '.join(AUDITED_HEADS)}")
    logger.info("%d of %d training cases disagree on %s", len(asked), len(records), ", ".join(AUDITED_HEADS))
    write_jsonl(out_dir / KEY_FILE, key)
    paths = [out_dir / f"cases_{n}.jsonl" for n in range(batches)]
    write_round_robin(asked, paths)
    return paths


def corrections(
    key: list[dict[str, Any]], decisions: list[dict[str, Any]], schema: dict[str, list[str]], reason: str
) -> list[dict[str, Any]]:
    """Corrections for the clear choices that differ from the corpus label; all questions must be answered.

    A choice may be either candidate or a third label of the head; ``clear`` must be a boolean.
    """
    current = {(k["id"], h): label for k in key for h, label in k.items() if h != "id"}
    answers: dict[tuple[str, str], dict[str, Any]] = {}
    for row in decisions:
        missing = [f for f in DECISION_FIELDS if f not in row]
        if missing:
            raise ValueError(f"decision {row} lacks {', '.join(missing)}")
        if not isinstance(row["clear"], bool):
            raise ValueError(f"decision {row}: clear must be true or false")
        asked = (row["id"], row["head"])
        if asked not in current:
            raise ValueError(f"decision for {asked} answers no question of this round")
        if asked in answers:
            raise ValueError(f"{asked} is answered twice")
        if row["choice"] not in schema[row["head"]]:
            raise ValueError(f"{asked}: choice {row['choice']!r} is not one of {schema[row['head']]}")
        answers[asked] = row
    unanswered = sorted(set(current) - set(answers))
    if unanswered:
        raise ValueError(f"{len(unanswered)} questions unanswered, first {unanswered[0]}")
    return [
        {
            "id": case_id,
            "head": head,
            "from": current[case_id, head],
            "to": row["choice"],
            "reason": f"{reason}: rule {row.get('rule') or '-'}: {row['reason']}",
        }
        for (case_id, head), row in answers.items()
        if row["clear"] and row["choice"] != current[case_id, head]
    ]


def apply(annotation_dir: Path, round_number: int) -> Path:
    """Writes ``corrections/audit_round_NNN.jsonl`` from the round's key and decisions; returns its path."""
    folder = audit_round_dir(annotation_dir, round_number)
    if not (folder / KEY_FILE).is_file():
        raise FileNotFoundError(f"{folder} has no {KEY_FILE}: draw round {round_number} first")
    decision_files = sorted(folder.glob("decisions_*.jsonl"))
    if not decision_files:
        raise FileNotFoundError(f"{folder} has no decisions_*.jsonl to apply")
    decisions = [row for path in decision_files for row in read_jsonl(path)]
    not_objects = [row for row in decisions if not isinstance(row, dict)]
    if not_objects:
        raise ValueError(f"decisions must be JSON objects, got {not_objects[0]!r}")
    key = list(read_jsonl(folder / KEY_FILE))
    rows = corrections(key, decisions, load_label_schema(), f"audit round {round_number}")
    # Zero-padded, so round 10 sorts after round 9 when the corrections are applied.
    target = annotation_dir / "corrections" / f"{AUDIT_CORRECTIONS_PREFIX}{round_number:03d}.jsonl"
    write_jsonl(target, rows)
    logger.info("%d of %d answers change a label: %s", len(rows), len(decisions), target)
    return target


def main(argv: list[str] | None = None) -> int:
    """``python -m training.corpus.audit draw|apply``: a label audit round of the training split."""
    parser = argparse.ArgumentParser(description="Audits training labels a checkpoint cannot fit.")
    parser.add_argument("mode", choices=["draw", "apply"])
    parser.add_argument("--round", type=int, required=True, dest="round_number")
    parser.add_argument("--checkpoint", type=Path, help="draw: a trained checkpoint folder (<run>/best)")
    parser.add_argument("--annotations", type=Path, default=ANNOTATION_DIR)
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.round_number < 1 or args.batches < 1:
        parser.error("--round and --batches must be at least 1")
    if args.mode == "draw" and args.checkpoint is None:
        parser.error("draw needs --checkpoint")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.mode == "draw":
            out = audit_round_dir(args.annotations, args.round_number)
            paths = draw(args.checkpoint, args.corpus, out, args.batches, args.seed)
            sys.stdout.write("\n".join(str(p) for p in paths) + "\n")
        else:
            sys.stdout.write(f"{apply(args.annotations, args.round_number)}\n")
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
