"""`cnn lr-find`'s chart: the smoothed loss against the learning rate (log scale), the suggested rate and the
minimum's rate / 10 marked."""

from __future__ import annotations

from pathlib import Path

from cnn_cli.reports.plots import new_figure


def plot_range_test(test, path: str | Path, title: str = "") -> None:
    """Draws `test` (`cnn_cli.training.lr_find.RangeTest`: rates, losses, smoothed, suggested, min_loss_rate)."""
    fig = new_figure(7.0, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(test.rates, test.losses, color="0.8", linewidth=0.8, label="loss of each step")
    ax.plot(test.rates, test.smoothed, color="C0", linewidth=1.8, label="smoothed loss")
    if test.suggested is not None:
        ax.axvline(test.suggested, color="C3", linestyle="--", label=f"suggested {test.suggested:.3g} (steepest)")
        ax.axvline(test.min_loss_rate, color="C2", linestyle=":", label=f"minimum / 10: {test.min_loss_rate:.3g}")
    ax.set_xscale("log")
    low, high = min(test.smoothed), max(test.smoothed[: max(1, len(test.smoothed) // 10)] + [min(test.smoothed)])
    ax.set_ylim(low - 0.1 * (high - low + 1e-9), high + 0.5 * (high - low + 1e-9))
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(title or "Learning-rate range test")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png")
