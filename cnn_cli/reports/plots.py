"""The PNG charts of the readers: the confusion matrix, compare's bars and overlaid training curves, and the
gallery of misclassified examples. Every function draws on its own matplotlib Figure (Agg, no pyplot state) and
sizes it by what it shows, so labels stay readable from 2 to 100 classes and variants."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cnn_cli.reports.phase_marks import mark_phases
from cnn_cli.rundir.records import history_metrics


def new_figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | Path | None) -> bytes | None:
    """Saves to `path`, or returns the PNG bytes when `path` is None."""
    if path is not None:
        fig.savefig(path, format="png")
        return None
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def wrap(label: str, width: int = 14, lines: int = 2) -> str:
    """A label broken into at most `lines` lines of about `width` characters (shortened with ... beyond)."""
    return "\n".join(textwrap.wrap(str(label), width, max_lines=lines, placeholder="...")) or str(label)


def plot_confusion(matrix, names: Sequence[str], path: str | Path | None, title: str = "") -> bytes | None:
    """The confusion matrix, counts in the cells (up to 30 classes), class names on both axes: wrapped and
    rotated, with the figure grown by the class count so that 10, 24 or 100 long names do not overlap."""
    return _save(confusion_figure(matrix, names, title), path)


def confusion_figure(matrix, names: Sequence[str], title: str = ""):
    matrix = np.asarray(matrix)
    k = len(names)
    cell = 0.55 if k <= 12 else 0.36 if k <= 30 else 0.2
    font = 9 if k <= 12 else 7 if k <= 30 else 6
    labels = [wrap(n, 16 if k <= 30 else 20, 2 if k <= 30 else 1) for n in names]
    side = max(5.0, cell * k + 3.0)
    fig = new_figure(side + 1.0, side)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(matrix, cmap="Blues", interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), labels=labels, rotation=45 if k <= 30 else 90, ha="right" if k <= 30 else "center",
                  rotation_mode="anchor" if k <= 30 else "default", fontsize=font)
    ax.set_yticks(range(k), labels=labels, fontsize=font)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "confusion matrix")
    if k <= 30:
        limit = matrix.max() / 2 if matrix.size else 0
        for i, j in zip(*np.nonzero(matrix)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=font,
                    color="white" if matrix[i, j] > limit else "black")
    fig.tight_layout()
    return fig


ACCURACY = (("best_val_accuracy", "best val accuracy"), ("test_accuracy", "test accuracy"))
"""A classification comparison's figures (`cnn_cli.studies.compare.figures_of` gives each task's)."""


def plot_comparison(variants, path: str | Path | None, columns=ACCURACY, headline: str = "accuracy") -> bytes | None:
    """Bars of the comparison's figures per variant (`columns`: (key of `variant.values`, words); classification's
    best validation and test accuracy, a regression's validation and test MAE and test R², ...), failed
    variants marked, the variant labels wrapped and the figure widened by the number of variants so
    neighbouring labels do not touch."""
    return _save(comparison_figure(variants, columns, headline), path)


def comparison_figure(variants, columns=ACCURACY, headline: str = "accuracy"):
    labels = ["\n".join(wrap(part, 24, 2) for part in variant.short.split(", ")) if getattr(variant, "short", "")
              else "\n".join(wrap(f"{k}={v}", 24, 2) for k, v in variant.settings) for variant in variants]
    series = [(words, [variant.values.get(key) for variant in variants]) for key, words in columns]
    series = [(name, values) for name, values in series if any(x is not None for x in values)]
    fig = new_figure(max(6.0, 1.5 * len(variants) + 2), 5.0)
    ax = fig.add_subplot(1, 1, 1)
    positions = np.arange(len(variants))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series):
        heights = [0.0 if x is None else x for x in values]
        bars = ax.bar(positions + (i - (len(series) - 1) / 2) * width, heights, width, label=name)
        for bar, x in zip(bars, values):
            if x is not None:
                ax.annotate(f"{x:.3f}", (bar.get_x() + bar.get_width() / 2, x), ha="center", va="bottom",
                            fontsize=7, xytext=(0, 2), textcoords="offset points")
    for position, variant in zip(positions, variants):
        if variant.status != "complete":
            ax.annotate(variant.status, (position, 0.02), ha="center", va="bottom", rotation=90, fontsize=8, color="red",
                        xycoords=("data", "axes fraction"))
    many = len(variants) > 6
    ax.set_xticks(positions, labels=labels, rotation=30 if many else 0, ha="right" if many else "center",
                  rotation_mode="anchor", fontsize=8)
    drawn = [x for _, values in series for x in values if x is not None]
    if all(0 <= x <= 1 for x in drawn):  # shares (accuracy, F1, mAP): on the whole scale
        ax.set_ylim(0, 1.1)
    else:  # errors in the data's units (MAE), or an R² below 0: room above the highest bar for its number
        ax.set_ylim(min(0.0, *drawn), max(drawn) * 1.12 if max(drawn) > 0 else 1.0)
    ax.set_ylabel(", ".join(dict.fromkeys(name.split(" ", 1)[-1].removeprefix("val ") for name, _ in series)) or headline)
    ax.set_title("comparison", loc="right")
    if series:
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=len(series), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_curves(series: Sequence[tuple[str, list[dict]]], path: str | Path | None, title: str = "") -> bytes | None:
    """The loss and the task's metrics per epoch (accuracy; a multi-label run's AUC and F1; a regression's MAE and
    RMSE: those the histories hold, `history_metrics`), a panel each. One series (a run): training against
    validation, with a dotted line where
    each phase begins when its history has a `phase` column (as training_curves.png has). Several (compare's
    variants): one colour per variant, validation solid and training dashed, overlaid on the same axes."""
    return _save(curves_figure(series, title), path)


def curves_figure(series: Sequence[tuple[str, list[dict]]], title: str = ""):
    from matplotlib.ticker import MaxNLocator


    metrics = ("loss", *history_metrics([row for _, rows in series for row in rows]))
    fig = new_figure(5.5 * len(metrics), 4.2)
    colours = [f"C{i % 10}" for i in range(len(series))]
    for panel, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), panel + 1)
        for (label, rows), colour in zip(series, colours):
            for key, style, kind in ((metric, "--", "training"), (f"val_{metric}", "-", "validation")):
                points = [(r.get("epoch"), r.get(key)) for r in rows if r.get(key) is not None]
                if not points:
                    continue
                # several variants: one legend entry per variant (its colour), the line styles said in the title
                name = kind if len(series) == 1 else (label if kind == "validation" or not any(
                    r.get(f"val_{metric}") is not None for r in rows) else None)
                ax.plot([p[0] for p in points], [p[1] for p in points], style, marker="o", markersize=3,
                        color=colour if len(series) > 1 else None, label=wrap(name, 44, 2) if name else None)
        if len(series) == 1:
            mark_phases(ax, series[0][1])
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7 if len(series) > 2 else 8)
    if len(series) > 1:
        title = f"{title} (solid: validation, dashed: training)" if title else "solid: validation, dashed: training"
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_gallery(images: np.ndarray, captions: Sequence[str], path: str | Path | None, title: str = "",
                 columns: int = 8) -> bytes | None:
    """A grid of uint8 images (N, H, W, C) with a caption under each (e.g. true, predicted, confidence)."""
    n = len(images)
    rows = max(1, -(-n // columns))
    fig = new_figure(1.6 * columns, 1.95 * rows + (0.5 if title else 0.1))
    for i in range(n):
        ax = fig.add_subplot(rows, columns, i + 1)
        image = images[i]
        gray = image.shape[-1] == 1
        ax.imshow(image[..., 0] if gray else image, cmap="gray" if gray else None, vmin=0, vmax=255,
                  interpolation="nearest")
        ax.set_xlabel(captions[i], fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    if n == 0:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no misclassified examples", ha="center", va="center")
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def short_source(source: str, width: int = 22) -> str:
    """A source as a caption shows it: an array's or a table's `index 264` / `row 5 (line 6)`, else the end of the
    file's path (`Shirt/0005.jpg`)."""
    for word in (" index ", " row ", " item "):
        if word in source:
            return source[source.rindex(word) + 1:][:width]
    parts = source.replace("\\", "/").split("/")
    tail = "/".join(parts[-2:])
    return tail if len(tail) <= width else "…" + tail[-(width - 1):]


def mistakes(x: np.ndarray, y: np.ndarray, probabilities: np.ndarray, names: Sequence[str],
             limit: int = 32, sources: Sequence[str] = ()) -> tuple[np.ndarray, list[str]]:
    """The misclassified examples, most confidently wrong first: their images and captions
    `true: A / pred: B 0.97`, and where each came from (`sources`, aligned with `x`: a file, row or index)."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.nonzero(predicted != y)[0]
    confidence = probabilities[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:limit]
    captions = [f"true: {wrap(names[y[i]], 16, 1)}\npred: {wrap(names[predicted[i]], 11, 1)} {probabilities[i, predicted[i]]:.2f}"
                + (f"\n{short_source(sources[i])}" if len(sources) else f"\n#{i}") for i in order]
    return x[order], captions


def write_mistakes(x, y, probabilities, names, path: str | Path, title: str = "", sources: Sequence[str] = ()) -> None:
    """`mistakes.png`: the gallery of misclassified examples, for those who do not open the HTML report; each
    captioned with its source (the file, row or index, as --mistakes FILE.csv lists it in full)."""
    images, captions = mistakes(x, y, probabilities, names, sources=sources)
    plot_gallery(images, captions, path, title=title or f"misclassified: {int((probabilities.argmax(1) != y).sum())} "
                 f"of {len(y)} (most confident first)")
