"""PNG plots for the evaluation report: confusion matrices and reliability diagrams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
import numpy as np


def plot_confusion(confusion: dict[str, Any], title: str, path: Path) -> None:
    labels = confusion["labels"]
    matrix = np.array(confusion["rows_gold_cols_pred"])
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(labels), 1.0 + 0.6 * len(labels)))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            str(value),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if value > matrix.max() / 2 else "black",
        )
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_reliability(bins: list[dict[str, float]], title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(3.6, 3.4))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    if bins:
        ax.bar([b["confidence"] for b in bins], [b["accuracy"] for b in bins], width=0.08, alpha=0.7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
