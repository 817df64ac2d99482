"""`cnn compare`'s page and overlaid curves: `OUT/comparison.html` (the table of variants, sortable, the bar
chart and every variant's training curves on the same axes) and `OUT/comparison_curves.png`."""

from __future__ import annotations

from pathlib import Path

from cnn_cli.reports import access, html, plots
from cnn_cli.rundir.run_dir import RunDir

COMPARISON_HTML = "comparison.html"
CURVES_PNG = "comparison_curves.png"


def histories(variants) -> list[tuple[str, list[dict]]]:
    """(label, history rows) of each variant that wrote a history.csv (with --folds: each fold's, labelled
    `variant (fold i)`)."""
    series = []
    for variant in variants:
        if getattr(variant, "folds", None):
            for i, fold in enumerate(variant.folds, 1):
                series += [(f"{variant.label} (fold {i})", rows) for _, rows in histories([fold])]
            continue
        if not variant.run_dir:
            continue
        rows = [r.model_dump() for r in RunDir(variant.run_dir).history.rows() if r.epoch is not None]
        if rows:
            series.append((getattr(variant, "short", "") or variant.label, rows))  # the legend: what differs
    return series


def write_compare_page(variants, out: Path, columns=plots.ACCURACY, headline: str = "accuracy",
                       ranked_by: str = "") -> None:
    """The page of `variants` (best first by their `rank`, when they have one) with the comparison's figures
    (`columns`: (key of `variant.values`, words)); `ranked_by` says by what (`ranked by val MAE (lower is better)`)."""
    series = histories(variants)
    curves = plots.plot_curves(series, None, "training curves, overlaid") if series else None
    if curves is not None:
        access.write_atomic(out / CURVES_PNG, curves)
    bars = plots.plot_comparison(variants, None, columns, headline)
    ordered = sorted(variants, key=lambda v: (getattr(v, "rank", None) is None, getattr(v, "rank", None) or 0))
    rows = [[v.label, v.status, html.number(getattr(v, "rank", None)), *(html.number(v.values.get(key)) for key, _ in columns),
             html.number(v.test_loss), html.number(v.epochs), html.number(v.seconds, 1), v.run_dir or "-", v.error or ""]
            for v in ordered]
    table = html.table(["variant", "status", "rank", *(words for _, words in columns), "test loss", "epochs", "seconds",
                        "run directory", "error"], rows,
                       numeric=[False, False, True, *(True for _ in columns), True, True, True, False, False])
    said = f" Best first, {ranked_by}." if ranked_by else ""
    sections = [("table", "Variants", html.paragraph("Click a column's header to sort by it." + said) + table),
                ("curves", "Training curves", html.img(curves, "training curves of every variant, overlaid") if curves
                 else html.paragraph("No variant wrote a history.")),
                ("bars", headline[:1].upper() + headline[1:],
                 html.img(bars, ", ".join(words for _, words in columns) + " per variant"))]
    failed = [v for v in variants if v.status != "complete"]
    banners = [f"{len(failed)} of {len(variants)} variants did not complete: " + ", ".join(v.label for v in failed)] if failed else []
    page = html.page("comparison", f"{out} · {len(variants)} variants", banners, sections)
    access.write_atomic(out / COMPARISON_HTML, page.encode("utf-8"))
