"""The pictures of a multi-label or regression evaluation (matplotlib, Agg): each label's precision-recall curve
with its threshold's point; each target's predicted against true values and the residuals."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cnn_cli.reports.plots import _save, new_figure, wrap

MAX_PANELS = 12  # labels or targets drawn (the first ones)


def pr_curves(y: np.ndarray, outputs: np.ndarray, names: Sequence[str], thresholds: Sequence[float],
              path: str | Path | None, title: str = "") -> bytes | None:
    """Each label's precision-recall curve (scikit-learn), the point of its threshold marked."""
    from sklearn.metrics import precision_recall_curve

    fig = new_figure(6.5, 5)
    ax = fig.add_subplot(1, 1, 1)
    for j, name in enumerate(list(names)[:MAX_PANELS]):
        truth = np.asarray(y)[:, j]
        if not truth.any():
            continue
        precision, recall, cuts = precision_recall_curve(truth, outputs[:, j])
        line = ax.plot(recall, precision, label=wrap(name, 24, 1))[0]
        at = int(np.searchsorted(cuts, thresholds[j])) if len(cuts) else 0
        ax.plot([recall[min(at, len(recall) - 1)]], [precision[min(at, len(precision) - 1)]], "o", color=line.get_color())
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.set_title(title or "precision-recall per label (dot: the label's threshold)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


def predicted_vs_true(y: np.ndarray, outputs: np.ndarray, names: Sequence[str], path: str | Path | None,
                      title: str = "") -> bytes | None:
    """Per target: predicted against true (the diagonal is right), and the residuals against the true value."""
    shown = list(names)[:MAX_PANELS]
    fig = new_figure(8, 3.6 * len(shown))
    for j, name in enumerate(shown):
        truth, guess = np.asarray(y, dtype=np.float64)[:, j], np.asarray(outputs, dtype=np.float64)[:, j]
        ax = fig.add_subplot(len(shown), 2, 2 * j + 1)
        ax.scatter(truth, guess, s=8, alpha=0.6)
        low, high = float(min(truth.min(), guess.min())), float(max(truth.max(), guess.max()))
        ax.plot([low, high], [low, high], color="gray", linestyle="--", linewidth=1)
        ax.set_xlabel(f"true {wrap(name, 30, 1)}")
        ax.set_ylabel("predicted")
        ax.grid(True, alpha=0.3)
        ax = fig.add_subplot(len(shown), 2, 2 * j + 2)
        ax.scatter(truth, guess - truth, s=8, alpha=0.6, color="tab:orange")
        ax.axhline(0, color="gray", linestyle="--", linewidth=1)
        ax.set_xlabel(f"true {wrap(name, 30, 1)}")
        ax.set_ylabel("residual (predicted - true)")
        ax.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def task_figure(task: str, y, outputs, names, thresholds, path, title: str = "") -> bytes | None:
    """The evaluation's picture of a multi-label (precision-recall) or regression (predicted, residuals) run."""
    if task == "multilabel":
        return pr_curves(y, outputs, names, thresholds, path, title)
    return predicted_vs_true(y, outputs, names, path, title)
