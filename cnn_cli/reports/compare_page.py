"""`cnn compare`'s page and overlaid curves: `OUT/comparison.html` (the table of variants, sortable, the bar
chart and every variant's training curves on the same axes) and `OUT/comparison_curves.png`."""

from __future__ import annotations

from pathlib import Path

from cnn_cli.reports import access, plots
from cnn_cli.reports import html as H
from cnn_cli.rundir.layout import RunLayout

COMPARISON_HTML = "comparison.html"
CURVES_PNG = "comparison_curves.png"


def histories(variants) -> list[tuple[str, list[dict]]]:
    """(label, history rows) of each variant that wrote a history.csv."""
    series = []
    for variant in variants:
        if not variant.run_dir:
            continue
        rows = [r for r in _history(RunLayout(variant.run_dir)) if r.get("epoch") is not None]
        if rows:
            series.append((variant.label, rows))
    return series


def _history(layout: RunLayout) -> list[dict]:
    return access.read_history_file(layout.file(layout.history.name))


def write_compare_page(variants, out: Path) -> None:
    series = histories(variants)
    curves = plots.plot_curves(series, None, "training curves, overlaid") if series else None
    if curves is not None:
        access.write_atomic(out / CURVES_PNG, curves)
    bars = plots.plot_comparison(variants, None)
    rows = [[v.label, v.status, H.number(v.best_val_accuracy), H.number(v.test_accuracy), H.number(v.test_loss),
             H.number(v.epochs), H.number(v.seconds, 1), v.run_dir or "-", v.error or ""] for v in variants]
    table = H.table(["variant", "status", "best val accuracy", "test accuracy", "test loss", "epochs", "seconds",
                     "run directory", "error"], rows, numeric=[False, False, True, True, True, True, True, False, False])
    sections = [("table", "Variants", H.paragraph("Click a column's header to sort by it.") + table),
                ("curves", "Training curves", H.img(curves, "training curves of every variant, overlaid") if curves
                 else H.paragraph("No variant wrote a history.")),
                ("bars", "Accuracy", H.img(bars, "best validation and test accuracy per variant"))]
    failed = [v for v in variants if v.status != "complete"]
    banners = [f"{len(failed)} of {len(variants)} variants did not complete: " + ", ".join(v.label for v in failed)] if failed else []
    page = H.page("comparison", f"{out} · {len(variants)} variants", banners, sections)
    access.write_atomic(out / COMPARISON_HTML, page.encode("utf-8"))
