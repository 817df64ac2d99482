"""`training_curves.png`: loss and accuracy per epoch, training against validation (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

from cnn_cli.numbers import to_float
from cnn_cli.rundir.atomic import save_atomic


def plot_curves(rows: list[dict], path: str | Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    epochs = [int(r["epoch"]) for r in rows]
    fig = Figure(figsize=(10, 4), dpi=100)
    for i, metric in enumerate(("loss", "accuracy")):
        ax = fig.add_subplot(1, 2, i + 1)
        for key, label in ((metric, "training"), (f"val_{metric}", "validation")):
            values = [to_float(r.get(key)) for r in rows]
            points = [(e, v) for e, v in zip(epochs, values) if v is not None]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_atomic(path, lambda tmp: fig.savefig(tmp, format="png"))


