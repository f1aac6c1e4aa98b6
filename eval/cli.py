"""The ``kesu eval`` and ``kesu bench`` subcommands (registered via entry points)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_eval_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a model version against a split, or compare two reports",
        description="Per-head quality with baselines, written to a report folder;"
        " or --compare A B to gate a promotion.",
    )
    parser.add_argument("--model", type=Path, help="model version folder, e.g. models/v1")
    parser.add_argument(
        "--data", default="test", help="split name under --corpus, or a .jsonl file (default: test)"
    )
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    parser.add_argument("--report-dir", type=Path, help="default: reports/<version>-<data>")
    parser.add_argument("--precision", choices=("int8", "fp32"), default="int8")
    parser.add_argument("--no-baselines", action="store_true", help="skip the baselines")
    parser.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("A", "B"),
        help="two report folders or report.json files; exits 1 if B regresses",
    )
    parser.add_argument("--max-drop", type=float, default=0.01, help="allowed drop per figure with --compare")
    parser.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    if args.compare:
        from eval.compare import compare, load_report, render_comparison

        a, b = (load_report(p) for p in args.compare)
        rows, regressed = compare(a, b, args.max_drop)
        sys.stdout.write(render_comparison(rows, a["model"]["version"], b["model"]["version"], args.max_drop))
        if regressed:
            sys.stderr.write(f"B regresses by more than {args.max_drop} on at least one figure\n")
        return 1 if regressed else 0
    if args.model is None:
        raise ValueError("kesu eval needs --model (or --compare A B)")
    from eval.evaluate import evaluate

    report_dir = args.report_dir or Path("reports") / f"{args.model.name}-{Path(args.data).stem}"
    report = evaluate(args.model, args.data, report_dir, args.corpus, args.precision, not args.no_baselines)
    sys.stdout.write(json.dumps(report["headline"], indent=2) + f"\nreport: {report_dir}\n")
    return 0


def add_bench_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="latency and throughput of torch fp32, ONNX fp32 and ONNX int8",
        description="Speed benchmark (not a test):"
        " single-text p50/p99 per length class, throughput at batch 32.",
    )
    parser.add_argument("--model", type=Path, required=True, help="model version folder")
    parser.add_argument("--checkpoint", type=Path, help="training checkpoint for the torch fp32 runtime")
    parser.add_argument(
        "--data",
        default="test",
        help="split name under --corpus, or a .jsonl file of texts to time (default: test)",
    )
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--output", type=Path, default=Path("reports/bench.json"))
    parser.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from eval.bench import bench, render_bench, write_bench
    from eval.evaluate import resolve_data

    results = bench(args.model, resolve_data(args.data, args.corpus), args.checkpoint, repeats=args.repeats)
    write_bench(results, args.output)
    sys.stdout.write(render_bench(results))
    return 0
