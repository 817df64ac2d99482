"""`training_curves.png`: the loss and the task's metrics per epoch (accuracy; a multi-label run's AUC and F1; a
regression's MAE and RMSE), training against validation (matplotlib, Agg); a run in phases gets a dotted line where each phase begins (`cnn_cli.reports.phase_marks`, which the HTML report shares)."""

from __future__ import annotations

from pathlib import Path

from cnn_cli.number_format import to_float
from cnn_cli.reports.phase_marks import mark_phases
from cnn_cli.rundir.atomic import save_atomic
from cnn_cli.rundir.records import history_metrics


def plot_curves(rows: list[dict], path: str | Path, title: str = "") -> None:
    fig = curves_figure(rows, title)
    save_atomic(path, lambda tmp: fig.savefig(tmp, format="png"))


def curves_figure(rows: list[dict], title: str = ""):
    """The figure of `plot_curves`: a panel for the loss and one for each of the task's metrics that the history
    holds (`history_metrics`), and the learning rate's when it changed; epochs on whole-number ticks."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [int(r["epoch"]) for r in rows]
    rates = [(e, to_float(r.get("learning_rate"))) for e, r in zip(epochs, rows)]
    rates = [(e, v) for e, v in rates if v is not None]
    varied = len({v for _, v in rates}) > 1  # the learning rate gets a panel when it changed (a schedule, a plateau)
    metrics = ("loss", *history_metrics(rows))
    panels = len(metrics) + (1 if varied else 0)
    fig = Figure(figsize=(5 * panels, 4), dpi=100)
    if varied:
        ax = fig.add_subplot(1, panels, panels)
        ax.plot([e for e, _ in rates], [v for _, v in rates], marker="o", color="tab:green")
        mark_phases(ax, rows)
        ax.set_xlabel("epoch")
        ax.set_ylabel("learning rate")
        ax.set_title("learning rate (end of epoch)")
        ax.grid(True, alpha=0.3)
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(1, panels, i + 1)
        for key, label in ((metric, "training"), (f"val_{metric}", "validation")):
            values = [to_float(r.get(key)) for r in rows]
            points = [(e, v) for e, v in zip(epochs, values) if v is not None]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        if len(epochs) <= 12:  # epochs are whole numbers: each one ticked, or whole-number ticks among many
            ax.set_xticks(epochs)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        mark_phases(ax, rows)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
