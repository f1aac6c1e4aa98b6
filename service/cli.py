"""The ``kesu`` command: ``serve``, ``classify``, ``feedback export``, plus plugin commands.

Plugins are entry points of group ``kesu.commands``, each a function
``add_X_command(subparsers)`` that registers a subparser and sets ``func``. A
plugin that cannot be imported (e.g. torch is absent from the serving image) is
skipped, so the serving commands always work. Commands report a user error (a bad
argument, a missing or existing file, a failed check) by raising ``CommandError``,
``ValueError`` or ``OSError``: one line on stderr and exit status 1, the traceback
only at ``--log-level DEBUG``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service import __version__
from service.config import Settings

logger = logging.getLogger(__name__)

PLUGIN_GROUP = "kesu.commands"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class CommandError(Exception):
    """A user error: reported as one line on stderr with a non-zero exit, no traceback."""


def _settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the flags that were given on top."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise CommandError(f"invalid settings: {exc}") from exc


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", help="model version name under --models-dir, or a folder (default: models/DEFAULT)"
    )
    parser.add_argument("--models-dir", type=Path, help="folder of model versions (default: models)")
    parser.add_argument("--precision", choices=["int8", "fp32"], help="graph to run (default: int8)")
    parser.add_argument("--threads", type=int, help="onnxruntime intra-op threads (default: all cores)")


def _model_settings(args: argparse.Namespace, **extra: Any) -> Settings:
    return _settings(
        model_version=args.model,
        models_dir=args.models_dir,
        precision=args.precision,
        intra_op_threads=args.threads,
        **extra,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app
    from service.model_version import load_model_version, resolve_version_path

    settings = _model_settings(
        args,
        feedback_db=args.feedback_db,
        routing_file=args.routing_file,
        micro_batching=False if args.no_micro_batching else None,
    )
    try:  # fail fast on a wrong model path; the graph itself loads in the app's lifespan
        load_model_version(resolve_version_path(settings.models_dir, settings.model_version))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise CommandError(str(exc)) from exc
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level.lower())
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from service.classify_file import classify_file
    from service.engine import Engine

    if not args.input.is_file():
        raise CommandError(f"input file not found (or not a file): {args.input}")
    settings = _model_settings(args)
    try:
        engine = Engine.load(settings)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise CommandError(f"cannot load the model: {exc}") from exc
    try:
        stats = classify_file(
            engine,
            args.input,
            args.output,
            batch_size=args.batch_size,
            max_text_chars=settings.max_text_chars,
            progress=not args.no_progress,
        )
    except OSError as exc:
        raise CommandError(str(exc)) from exc
    sys.stderr.write(f"kesu: classified {stats.cases} cases into {args.output}; {stats.errors} bad lines\n")
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from service.feedback import FeedbackStore, export_corpus

    db = args.db if args.db is not None else _settings().feedback_db
    if not db.is_file():
        raise CommandError(f"feedback database not found: {db}")
    store = FeedbackStore(db)
    try:
        with args.output.open("w", encoding="utf-8") as out:
            n = export_corpus(store, out)
    except OSError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        store.close()
    sys.stderr.write(f"kesu: exported {n} feedback records to {args.output}\n")
    return 0


def add_plugin_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the ``kesu.commands`` entry points that can be imported; skips the others."""
    for entry_point in entry_points(group=PLUGIN_GROUP):
        try:
            add_command = entry_point.load()
        except Exception as exc:  # an optional dependency is missing in this image
            logger.debug("skipping kesu command %s (%s): %s", entry_point.name, entry_point.value, exc)
            continue
        try:
            add_command(subparsers)
        except Exception as exc:
            logger.warning("kesu command %s failed to register: %s", entry_point.name, exc)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kesu", description="Chinese customer-complaint classification.")
    parser.add_argument("--version", action="version", version=f"kesu {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=LOG_LEVELS, type=str.upper)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = subparsers.add_parser("serve", help="run the HTTP/WebSocket service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    _add_model_options(serve)
    serve.add_argument(
        "--feedback-db", type=Path, help="SQLite file for feedback (default: data/feedback.db)"
    )
    serve.add_argument(
        "--routing-file", type=Path, help="routing table overriding the version's routing.json"
    )
    serve.add_argument("--no-micro-batching", action="store_true", help="run each request on its own")
    serve.set_defaults(func=cmd_serve)

    classify = subparsers.add_parser("classify", help="classify a JSONL file of cases")
    classify.add_argument("--input", type=Path, required=True, help="one case per line")
    classify.add_argument("--output", type=Path, required=True, help="one result (or error record) per line")
    _add_model_options(classify)
    classify.add_argument("--batch-size", type=int, default=64)
    classify.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    classify.set_defaults(func=cmd_classify)

    feedback = subparsers.add_parser("feedback", help="work with stored feedback")
    feedback_sub = feedback.add_subparsers(dest="feedback_command", metavar="COMMAND", required=True)
    export = feedback_sub.add_parser("export", help="write feedback as training-corpus JSONL")
    export.add_argument(
        "--db", type=Path, help="feedback SQLite file (default: KESU_FEEDBACK_DB or data/feedback.db)"
    )
    export.add_argument("--output", type=Path, required=True)
    export.set_defaults(func=cmd_feedback_export)

    add_plugin_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``kesu`` command line; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--log-level", default="INFO", type=str.upper)
    level = pre.parse_known_args(args_list)[0].log_level
    logging.basicConfig(
        level=level if level in LOG_LEVELS else "INFO",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    parser = build_parser()
    args = parser.parse_args(args_list)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except (CommandError, ValueError, OSError) as exc:
        logger.debug("kesu %s failed", args_list[0] if args_list else "", exc_info=True)
        sys.stderr.write(f"kesu: error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
