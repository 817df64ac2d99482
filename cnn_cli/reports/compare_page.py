"""`cnn compare`'s page and overlaid curves: `OUT/comparison.html` (the table of variants, sortable, the bar
chart and every variant's training curves on the same axes) and `OUT/comparison_curves.png`."""

from __future__ import annotations

from pathlib import Path

from cnn_cli.reports import access, html, plots
from cnn_cli.rundir.run_dir import RunDir

COMPARISON_HTML = "comparison.html"
CURVES_PNG = "comparison_curves.png"


def histories(variants) -> list[tuple[str, list[dict]]]:
    """(label, history rows) of each variant that wrote a history.csv."""
    series = []
    for variant in variants:
        if not variant.run_dir:
            continue
        rows = [r.model_dump() for r in RunDir(variant.run_dir).history.rows() if r.epoch is not None]
        if rows:
            series.append((getattr(variant, "short", "") or variant.label, rows))  # the legend: what differs
    return series


def write_compare_page(variants, out: Path) -> None:
    series = histories(variants)
    curves = plots.plot_curves(series, None, "training curves, overlaid") if series else None
    if curves is not None:
        access.write_atomic(out / CURVES_PNG, curves)
    bars = plots.plot_comparison(variants, None)
    rows = [[v.label, v.status, html.number(v.best_val_accuracy), html.number(v.test_accuracy), html.number(v.test_loss),
             html.number(v.epochs), html.number(v.seconds, 1), v.run_dir or "-", v.error or ""] for v in variants]
    table = html.table(["variant", "status", "best val accuracy", "test accuracy", "test loss", "epochs", "seconds",
                     "run directory", "error"], rows, numeric=[False, False, True, True, True, True, True, False, False])
    sections = [("table", "Variants", html.paragraph("Click a column's header to sort by it.") + table),
                ("curves", "Training curves", html.img(curves, "training curves of every variant, overlaid") if curves
                 else html.paragraph("No variant wrote a history.")),
                ("bars", "Accuracy", html.img(bars, "best validation and test accuracy per variant"))]
    failed = [v for v in variants if v.status != "complete"]
    banners = [f"{len(failed)} of {len(variants)} variants did not complete: " + ", ".join(v.label for v in failed)] if failed else []
    page = html.page("comparison", f"{out} · {len(variants)} variants", banners, sections)
    access.write_atomic(out / COMPARISON_HTML, page.encode("utf-8"))
