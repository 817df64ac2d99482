"""`cnn tune`'s page, `DIR/study.html`: the optimisation history (each finished trial's metric and the best so
far, drawn with matplotlib) and the trials table (sortable), offline, in the style of `cnn report`."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

from cnn_cli.reports import access, html
from cnn_cli.reports.plots import new_figure

STUDY_HTML = "study.html"


def history_png(trials: Sequence, metric: str, direction: str) -> bytes | None:
    """Each complete trial's metric by trial number, pruned trials marked, the best so far as a step line."""
    done = sorted((t for t in trials if t.value is not None), key=lambda t: t.number)
    if not done:
        return None
    fig = new_figure(7, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter([t.number for t in done], [t.value for t in done], label="trial", color="tab:blue", zorder=3)
    best, line = None, []
    for t in done:
        better = best is None or (t.value < best if direction == "minimize" else t.value > best)
        best = t.value if better else best
        line.append(best)
    ax.step([t.number for t in done], line, where="post", color="tab:orange", label="best so far")
    pruned = [t.number for t in trials if t.state == "pruned"]
    for number in pruned:
        ax.axvline(number, color="0.8", linewidth=1, zorder=1)
    ax.set_xlabel("trial" + (" (grey: pruned)" if pruned else ""))
    ax.set_ylabel(metric)
    ax.set_title("optimisation history")
    ax.legend(loc="best")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def write_tune_page(result, metric: str) -> Path:
    folder = Path(result.folder)
    keys = list(dict.fromkeys(k for t in result.trials for k in t.params))
    rows = []
    for t in result.trials:
        link = "-"
        if t.run_dir:
            target = Path(t.run_dir) / "report.html"
            rel = os.path.relpath(t.run_dir, folder)
            link = html.Raw(f'<td><a href="{html.esc(os.path.relpath(target, folder))}">{html.esc(rel)}</a></td>') \
                if target.is_file() else rel
        rows.append([html.number(t.number), t.state, html.number(t.value),
                     *(str(t.params.get(k, "")) for k in keys), link, t.error])
    table = html.table(["trial", "state", metric, *keys, "run directory", "error"], rows,
                       numeric=[True, False, True, *([False] * len(keys)), False, False])
    picture = history_png(result.trials, metric, result.direction)
    counts = {s: sum(t.state == s for t in result.trials) for s in ("complete", "pruned", "fail")}
    cards = html.cards([("trials", str(len(result.trials))), ("complete", str(counts["complete"])),
                        ("pruned", str(counts["pruned"])), ("failed", str(counts["fail"])),
                        ("best " + metric, "-" if result.best is None else f"{result.best.value:.4f}")])
    sections = [("summary", "Study", cards),
                ("history", "Optimisation history", html.img(picture, "each trial's metric and the best so far")
                 if picture else html.paragraph("No trial has finished.")),
                ("trials", "Trials", html.paragraph("Click a column's header to sort by it.") + table)]
    subtitle = f"{folder} · {len(result.trials)} trials · {result.direction} {metric}"
    page = html.page("tune", subtitle, [], sections)
    access.write_atomic(folder / STUDY_HTML, page.encode("utf-8"))
    return folder / STUDY_HTML
