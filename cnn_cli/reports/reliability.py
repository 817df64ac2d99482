"""The run page's reliability diagram: the evaluated split's decisions in 15 bins of confidence, each bin's
accuracy against its mean confidence (a calibrated model's bars meet the diagonal), with the expected calibration
error; for a calibrated run, the same before its temperature beside it. Classification: each example's top
class; multilabel: every label decision (the score against whether the label is there)."""

from __future__ import annotations

from cnn_cli.reports import html
from cnn_cli.reports.plots import _save, new_figure
from cnn_cli.tasks.calibration import confidences, ece, reliability, sigmoid_at, softmax_at


def section(found) -> str:
    """The diagram of `found.evaluated` (a `run_page.Pass`), and before the temperature when calibrated."""
    e = found.evaluated
    kind = "sigmoid" if e.task == "multilabel" else "softmax"
    state = e.state
    panels = [("calibrated" if state is not None and state.temperature is not None else "as trained",
               *confidences(e.y, e.probabilities, kind))]
    if state is not None and state.temperature is not None:
        undo = 1.0 / state.temperature  # the outputs at temperature T, taken back to 1
        before = softmax_at(e.probabilities, undo) if kind == "softmax" else sigmoid_at(e.probabilities, undo)
        panels.insert(0, (f"before the temperature {state.temperature:.3f}", *confidences(e.y, before, kind)))
    png = _plot(panels, "top-class probability" if kind == "softmax" else "label score")
    what = ("each example's most probable class" if kind == "softmax" else "every label decision")
    figures = "; ".join(f"{name}: ECE {ece(c, h):.4f}" for name, c, h in panels)
    return html.img(png, "reliability diagram") + html.paragraph(
        f"Accuracy against confidence in 15 bins of {what} on the {e.split} split ({figures}). Bars on the "
        "diagonal are honest probabilities; below it, over-confident.")


def _plot(panels, xlabel: str) -> bytes:
    fig = new_figure(4.2 * len(panels), 4.0)
    for i, (name, confidence, hit) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        bins = reliability(confidence, hit)
        centres = [(b["low"] + b["high"]) / 2 for b in bins]
        heights = [b["accuracy"] if b["count"] else 0.0 for b in bins]
        ax.bar(centres, heights, width=1 / len(bins), edgecolor="#2456b3", color="#9db7e6", label="accuracy")
        ax.plot([0, 1], [0, 1], "--", color="#555", linewidth=1, label="calibrated")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("accuracy")
        ax.set_title(f"{name} (ECE {ece(confidence, hit):.4f})", fontsize=9)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return _save(fig, None)


