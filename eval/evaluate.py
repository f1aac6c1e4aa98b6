"""``kesu eval``: a model version (and the baselines) on a corpus split, written as a report folder."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset

from eval import baselines
from eval.plots import plot_confusion, plot_reliability
from eval.report import headline, model_report
from service.model_version import load_model_version
from service.predictor import Predictor
from training.corpus.dataset import load_corpus, load_split_file, model_inputs

logger = logging.getLogger(__name__)

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
# Targets of the shipped model on our own test split (issue: evaluation harness).
TARGETS = {
    "dissatisfaction.macro_f1": 0.85,
    "dissatisfaction_binary.f1": 0.92,
    "category.macro_f1": 0.80,
    "urgency.macro_f1": 0.75,
    "emotion.macro_f1": 0.70,
    "escalation_yes.f1": 0.85,
}


def resolve_data(data: str, corpus_dir: Path) -> Path:
    """A split name (``test``) under ``corpus_dir``, or a JSON Lines file path."""
    path = Path(data)
    if path.suffix == ".jsonl":
        if not path.is_file():
            raise FileNotFoundError(f"data file {path} not found")
        return path
    candidate = corpus_dir / f"{data}.jsonl"
    if not candidate.is_file():
        raise FileNotFoundError(
            f"no split {data!r} in {corpus_dir} (expected {candidate}), and not a .jsonl path"
        )
    return candidate


def predict_split(predictor: Predictor, split: Dataset) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    probs = predictor.probabilities(model_inputs(split))
    labels = {h: [predictor.heads[h][i] for i in predictor.decoders[h].choose(p)] for h, p in probs.items()}
    return labels, probs


def baseline_reports(
    heads: dict[str, list[str]], train: Dataset, test: Dataset, gold: dict[str, list[str | None]]
) -> dict[str, Any]:
    texts = list(test["model_input"])
    reports: dict[str, Any] = {}
    tfidf_pred, tfidf_probs = {}, {}
    for head, labels in heads.items():
        pred, probs, classes = baselines.tfidf_logreg(train["model_input"], train[head], texts)
        tfidf_pred[head] = pred
        full = np.zeros((len(texts), len(labels)))
        for j, c in enumerate(classes):
            full[:, labels.index(c)] = probs[:, j]
        tfidf_probs[head] = full
    reports["tfidf_logreg"] = model_report(heads, gold, tfidf_pred, tfidf_probs)
    reports["snownlp_sentiment"] = model_report(
        heads, gold, {"dissatisfaction": baselines.snownlp_dissatisfaction(texts)}, None
    )
    try:
        lexicon = baselines.load_dutir()
    except ModuleNotFoundError as exc:
        logger.warning("skipping the DUTIR lexicon baseline: %s", exc)
    else:
        reports["dutir_lexicon"] = model_report(
            heads, gold, {"emotion": baselines.lexicon_emotion(texts, lexicon)}, None
        )
    return reports


def margins_over_baselines(model: dict[str, float], reports: dict[str, Any]) -> dict[str, dict[str, float]]:
    """For each figure, the model's lead over each baseline that measures it (negative = behind)."""
    out: dict[str, dict[str, float]] = {}
    for name, report in reports.items():
        for key, value in headline(report).items():
            out.setdefault(key, {})[name] = model[key] - value
    return out


def evaluate(
    model_dir: Path,
    data: str,
    report_dir: Path,
    corpus_dir: Path = Path("data/corpus"),
    precision: str = "int8",
    with_baselines: bool = True,
) -> dict[str, Any]:
    """Scores ``model_dir`` on ``data``; writes ``report.json``, ``report.md`` and plots to ``report_dir``."""
    version = load_model_version(model_dir)
    heads = version.heads
    data_path = resolve_data(data, corpus_dir)
    test = load_split_file(data_path, list(heads))
    gold: dict[str, list[str | None]] = {h: list(test[h]) for h in heads}
    predictor = Predictor(version, precision=precision)
    pred, probs = predict_split(predictor, test)
    report: dict[str, Any] = {
        "model": {"version": version.name, "path": str(model_dir), "precision": precision},
        "data": {
            "path": str(data_path),
            "n": len(test),
            "sha256": hashlib.sha256(data_path.read_bytes()).hexdigest(),
        },
        "model_report": model_report(heads, gold, pred, probs),
    }
    figures = headline(report["model_report"])
    report["headline"] = figures
    report["targets"] = {
        k: {"target": t, "value": figures.get(k), "met": figures.get(k, 0.0) >= t} for k, t in TARGETS.items()
    }
    if with_baselines:
        train = load_corpus(corpus_dir, list(heads), splits=("train",))["train"]
        report["baselines"] = baseline_reports(heads, train, test, gold)
        report["margins_over_baselines"] = margins_over_baselines(figures, report["baselines"])
    report_dir.mkdir(parents=True, exist_ok=True)
    for head, head_report in report["model_report"]["heads"].items():
        plot_confusion(
            head_report["confusion_matrix"], f"{head} ({version.name})", report_dir / f"confusion_{head}.png"
        )
        plot_reliability(
            head_report.get("reliability", []), f"{head} reliability", report_dir / f"reliability_{head}.png"
        )
    (report_dir / REPORT_JSON).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    (report_dir / REPORT_MD).write_text(render_markdown(report), encoding="utf-8")
    logger.info("wrote %s", report_dir / REPORT_MD)
    return report


def render_markdown(report: dict[str, Any]) -> str:
    model = report["model"]
    lines = [
        f"# Evaluation of `{model['version']}` ({model['precision']}) on `{report['data']['path']}`",
        "",
        f"{report['data']['n']} cases. Macro-F1 per head;"
        " binary F1 for any dissatisfaction and for escalation `yes`.",
        "",
        "| figure | model | target | met | margin over best baseline |"
        + "".join(f" {b} |" for b in report.get("baselines", {})),
        "|---|---|---|---|---|" + "---|" * len(report.get("baselines", {})),
    ]
    baseline_figures = {b: headline(r) for b, r in report.get("baselines", {}).items()}
    for key, value in report["headline"].items():
        target = report["targets"].get(key)
        # The smallest lead is the lead over the strongest baseline.
        leads = report.get("margins_over_baselines", {}).get(key, {})
        closest = min(leads, key=leads.__getitem__) if leads else None
        cells = [
            f"{value:.3f}",
            f"{target['target']:.2f}" if target else "–",
            ("yes" if target["met"] else "**no**") if target else "–",
            f"{leads[closest]:+.3f} ({closest})" if closest else "–",
        ]
        cells += [
            f"{baseline_figures[b][key]:.3f}" if key in baseline_figures[b] else "–" for b in baseline_figures
        ]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines += ["", "## Per head", ""]
    for head, r in report["model_report"]["heads"].items():
        lines += [
            f"### {head}: accuracy {r['accuracy']:.3f}, macro-F1 {r['macro_f1']:.3f},"
            f" ECE {r.get('ece', 0):.3f}",
            "",
            "| label | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |"
            for label, c in r["per_class"].items()
        ]
        lines += ["", f"![confusion](confusion_{head}.png) ![reliability](reliability_{head}.png)", ""]
    return "\n".join(lines) + "\n"
