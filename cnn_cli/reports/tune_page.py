"""`cnn tune`'s page, `DIR/study.html`, offline, in the style of `cnn report`: the optimisation history, the
parameters' importances (fANOVA with a fixed seed), each parameter against the metric (Optuna's matplotlib
plots, drawn to PNG, their experimental warnings silenced) and the trials table (sortable), each trial linked
to its own report page."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path

from cnn_cli.reports import access, html

STUDY_HTML = "study.html"
IMPORTANCE_SEED = 0  # fANOVA's random forest: the same study, the same importances


def _agg():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(draw: Callable[[], object], width: float, height: float) -> bytes:
    """One of Optuna's matplotlib plots as PNG bytes, its figure closed after."""
    from optuna.exceptions import ExperimentalWarning

    plt = _agg()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        drawn = draw()
    axes = drawn.flat[0] if hasattr(drawn, "flat") else drawn
    fig = axes.figure
    try:
        fig.set_size_inches(width, height)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()
    finally:
        plt.close(fig)


def history_png(study, metric: str) -> bytes:
    from optuna.visualization.matplotlib import plot_optimization_history

    return _png(lambda: plot_optimization_history(study, target_name=metric), 7, 3.8)


def importance_png(study, metric: str) -> bytes:
    from optuna.importance import FanovaImportanceEvaluator
    from optuna.visualization.matplotlib import plot_param_importances

    evaluator = FanovaImportanceEvaluator(seed=IMPORTANCE_SEED)
    return _png(lambda: plot_param_importances(study, evaluator=evaluator, target_name=metric), 7,
                1.6 + 0.4 * len(study.best_params))


def slice_png(study, metric: str) -> bytes:
    from optuna.visualization.matplotlib import plot_slice

    count = max(1, len({k for t in study.get_trials(deepcopy=False) for k in t.params}))
    return _png(lambda: plot_slice(study, target_name=metric), min(4 * count, 16), 3.8)


def _picture(draw: Callable[[], bytes], alt: str, needs: str) -> html.Raw:
    """A plot, or a line saying what it needs when the study cannot give it yet."""
    try:
        return html.img(draw(), alt)
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:
        return html.paragraph(f"{needs} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}).")


def _link(run_dir: str, folder: Path):
    """The trial's report page when it has one, else its run directory."""
    if not run_dir:
        return "-"
    rel = os.path.relpath(run_dir, folder)
    report = Path(run_dir) / "report.html"
    target = os.path.relpath(report, folder) if report.is_file() else rel
    return html.Raw(f'<td><a href="{html.esc(target)}">{html.esc(rel)}</a></td>')


def write_tune_page(result, metric: str, study) -> Path:
    folder = Path(result.folder)
    keys = list(dict.fromkeys(k for t in result.trials for k in t.params))
    rows = [[html.number(t.number), t.state, html.number(t.value), *(str(t.params.get(k, "")) for k in keys),
             _link(t.run_dir, folder), t.error] for t in result.trials]
    table = html.table(["trial", "state", metric, *keys, "run directory", "error"], rows,
                       numeric=[True, False, True, *([False] * len(keys)), False, False])
    counts = {s: sum(t.state == s for t in result.trials) for s in ("complete", "pruned", "fail")}
    cards = html.cards([("trials", str(len(result.trials))), ("complete", str(counts["complete"])),
                        ("pruned", str(counts["pruned"])), ("failed", str(counts["fail"])),
                        ("best " + metric, "-" if result.best is None else f"{result.best.value:.4f}")])
    best = html.paragraph("No trial has completed yet.") if result.best is None else html.definitions(
        [("trial", str(result.best.number)), (metric, f"{result.best.value:.4f}"),
         *((k, str(v)) for k, v in result.best.params.items()),
         ("config", os.path.relpath(folder / "best.yaml", folder))])
    done = counts["complete"] > 0
    sections = [
        ("summary", "Study", cards + best),
        ("history", "Optimisation history",
         _picture(lambda: history_png(study, metric), "each trial's metric and the best so far",
                  "The history needs a complete trial") if done else html.paragraph("No trial has completed yet.")),
        ("importance", "Parameter importances",
         html.paragraph("fANOVA (Optuna's FanovaImportanceEvaluator, seed "
                        f"{IMPORTANCE_SEED}): the share of the metric's variance over the complete trials that "
                        "each parameter explains.")
         + _picture(lambda: importance_png(study, metric), "each parameter's importance",
                    "Importances need two or more complete trials whose parameters differ")),
        ("parameters", "Each parameter against the metric",
         _picture(lambda: slice_png(study, metric), "the metric of each trial by each parameter's value",
                  "The plot needs a complete trial") if done else html.paragraph("No trial has completed yet.")),
        ("trials", "Trials", html.paragraph("Click a column's header to sort by it; a run directory links to "
                                            "its report.") + table),
    ]
    subtitle = f"{folder} · {len(result.trials)} trials · {result.direction} {metric}"
    page = html.page(f"tune: {study.study_name}", subtitle, [], sections)
    access.write_atomic(folder / STUDY_HTML, page.encode("utf-8"))
    return folder / STUDY_HTML
