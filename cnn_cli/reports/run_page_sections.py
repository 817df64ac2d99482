"""The sections of `cnn report`'s page, each a function of what `report.gather` read (HTML via `html.py`)."""

from __future__ import annotations

import shlex

import numpy as np

from cnn_cli import tasks
from cnn_cli.errors import CnnError
from cnn_cli.inference.gradcam import cam_layer, grad_cam
from cnn_cli.number_format import human_bytes
from cnn_cli.reports import access, html, plots, task_figures
from cnn_cli.reports import pixels as images
from cnn_cli.reports.augment_grid import describe, grid_png
from cnn_cli.reports.inspection import default_layers, feature_maps, first_conv
from cnn_cli.reports.phase_marks import phase_ranges
from cnn_cli.rundir.records import history_metrics
from cnn_cli.tasks.calibration import imbalance_ratio, is_imbalanced

PAIRS, PAIR_EXAMPLES, HARDEST, INSIDE_IMAGES, INSIDE_LAYERS = 5, 6, 24, 3, 6


def thumb(pixels: np.ndarray, alt: str, size: int = 84) -> str:
    """An image at about `size` pixels wide, drawn without smoothing."""
    return html.img(images.png(pixels), alt, width=max(size, pixels.shape[1]), pixelated=True)


def _fmt(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def results(found) -> str:
    m, e = found.metrics, found.evaluated
    items = []
    if e is not None and e.several:
        task = tasks.of(found.run.config)
        keys = (("micro_f1", "micro F1"), ("macro_f1", "macro F1"), ("mean_average_precision", "mAP"),
                ("subset_accuracy", "subset accuracy")) if task.NAME == "multilabel" else \
            (("mae", "MAE"), ("rmse", "RMSE"), ("r2", "R²"))
        items += [(f"{e.split} {label}", _fmt(e.figures.get(key))) for key, label in keys]
        items += [(f"{e.split} examples", f"{len(e.y):,}")]
    elif e is not None:
        task = tasks.of(found.run.config)
        items += imbalance_cards(found)
        items += [(f"{e.split} accuracy", f"{e.accuracy:.4f}"),
                  (f"{e.split} loss ({task.loss_words(found.run.config)})", f"{float(e.losses.mean()):.4f}"),
                  (f"{e.split} examples", f"{len(e.y):,}")]
    for key, label in (("test_accuracy", "test accuracy (at training)"), ("val_accuracy", "validation accuracy (at training)"),
                       ("best_epoch", "best epoch"), ("epochs_run", "epochs run")):
        if m.get(key) is not None:
            items.append((label, _fmt(m[key])))
    if m.get("early_stopped"):
        items.append(("early stopping", "stopped" + (", best weights restored" if m.get("restored_best_weights") else "")))
    return html.cards(items) if items else html.paragraph("No metrics yet (metrics.json is written when the run ends).")


def imbalance_cards(found) -> list[tuple[str, str]]:
    """Balanced accuracy and macro F1, first, when the training classes are 5x or more apart in size."""
    e = found.evaluated
    ratio = imbalance_ratio(getattr(getattr(found.run, "targets", None), "train_counts", None)) \
        or imbalance_ratio([row["support"] for row in e.per_class])
    if not is_imbalanced(ratio):
        return []
    present = [row for row in e.per_class if row["support"] > 0]
    balanced = float(np.mean([row["recall"] for row in present])) if present else 0.0
    macro = float(np.mean([row["f1"] for row in e.per_class])) if e.per_class else 0.0
    return [(f"{e.split} balanced accuracy (classes {ratio:.0f}x apart)", f"{balanced:.4f}"),
            (f"{e.split} macro F1", f"{macro:.4f}")]


def curves(found) -> str:
    rows = [r for r in found.history if r.get("epoch") is not None]
    if not rows:
        return html.paragraph("No history yet (history.csv is written after each epoch).")
    png = plots.plot_curves([("run", rows)], None)
    shown = ", ".join(("loss", *history_metrics(rows)))
    said = tasks.of(found.run.config).CURVES_NOTE
    note = html.paragraph(said) if said else ""
    return html.img(png, f"{shown} per epoch, training and validation") + note + phases_caption(rows, found.metrics)


def phases_caption(rows: list[dict], metrics: dict) -> str:
    """For a run in phases (history.csv's `phase` column): which epochs each phase ran, with what it froze and
    its rate when metrics.json records them; "" for a run without phases."""
    ranges = phase_ranges(rows)
    if not ranges:
        return ""
    recorded = {p.get("phase"): p for p in metrics.get("phases") or []}
    parts = []
    for phase, first, last in ranges:
        epochs = f"epoch {first}" if first == last else f"epochs {first}-{last}"
        parts.append(f"phase {phase}: {epochs}" + _phase_settings(recorded.get(phase)))
    return html.paragraph("Dotted lines mark where each phase begins. " + "; ".join(parts) + ".")


def _phase_settings(record: dict | None) -> str:
    """` (frozen until conv2d_1, learning rate 0.001)` from metrics.json's record of a phase."""
    if record is None:
        return ""
    freeze = record.get("freeze") or {}
    what = [f"frozen until {freeze['until']}" if freeze.get("until") is not None
            else f"first {freeze['fraction']:g} of the layers with weights frozen" if freeze.get("fraction") is not None
            else "every layer trains"]
    if record.get("learning_rate") is not None:
        what.append(f"learning rate {record['learning_rate']:.3g}")
    if record.get("lr_schedule"):
        what.append(f"{record['lr_schedule']} schedule")
    return f" ({', '.join(what)})"


def per_class(found) -> str:
    rows = found.evaluated.per_class
    if imbalance_cards(found):  # the worst classes first
        rows = sorted(rows, key=lambda r: (r["f1"], r["recall"], r["index"]))
    body = [[row["name"], html.number(row["precision"]), html.number(row["recall"]), html.number(row["f1"]),
             html.number(row["support"])] for row in rows]
    return html.paragraph("Click a column's header to sort by it.") + html.table(
        ["class", "precision", "recall", "F1", "support"], body, numeric=[False, True, True, True, True])


def confusion(found) -> str:
    matrix, names = found.evaluated.matrix, found.run.class_map.names
    if len(names) > 30:
        return html.img(plots.plot_confusion(matrix, names, None, "confusion matrix"), "confusion matrix")
    peak = max(int(matrix.max()), 1)
    head = "".join(f'<th style="writing-mode:vertical-rl;transform:rotate(180deg)">{html.esc(n)}</th>' for n in names)
    rows = []
    for i, name in enumerate(names):
        cells = []
        for j in range(len(names)):
            v = int(matrix[i, j])
            shade = v / peak
            colour = "color:#fff;" if shade > 0.5 else ""
            cells.append(f'<td style="{colour}background:rgba(36,86,179,{shade:.3f})">{v or ""}</td>')
        rows.append(f"<tr><th>{html.esc(name)}</th>{''.join(cells)}</tr>")
    return (html.paragraph("Rows: true class; columns: predicted class.")
            + f'<div class="scroll"><table class="cm"><thead><tr><th>true \\ predicted</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def confused_pairs(found) -> str:
    e, names = found.evaluated, found.run.class_map.names
    pairs = access.most_confused(e.matrix, names, PAIRS)
    if not pairs:
        return html.paragraph("None: every example is classified correctly.")
    parts = []
    for pair in pairs:
        where = np.nonzero((e.y == pair["true_index"]) & (e.predicted == pair["predicted_index"]))[0][:PAIR_EXAMPLES]
        items = [html.figure(thumb(e.x[i], f"example {i}"), f"{_who(e, i)} p={e.probabilities[i, e.predicted[i]]:.2f}")
                 for i in where]
        parts.append(f"<h3>{html.esc(pair['true'])} taken for {html.esc(pair['predicted'])}: {pair['count']} times</h3>"
                     + html.gallery(items))
    return "".join(parts)


def hardest(found) -> str:
    e, names = found.evaluated, found.run.class_map.names
    order = np.argsort(-e.losses, kind="stable")[:HARDEST]
    items = [html.figure(thumb(e.x[i], f"example {i}"),
                      f"{_who(e, i)} true: {names[e.y[i]]} · predicted: {names[e.predicted[i]]} "
                      f"({e.probabilities[i, e.predicted[i]]:.2f}) · loss {e.losses[i]:.2f}") for i in order]
    return html.paragraph(f"The {len(order)} {e.split} images with the highest loss, highest first.") + html.gallery(items)


def _spread(names: list[str], count: int) -> list[str]:
    if len(names) <= count:
        return names
    picks = np.linspace(0, len(names) - 1, count).round().astype(int)
    return [names[i] for i in sorted(set(picks.tolist()))]


def inside(found) -> str:
    e, model, run = found.evaluated, found.model, found.run
    parts = []
    conv = first_conv(model)
    if conv is not None:
        kernel = np.asarray(conv.kernel)
        parts.append(f"<h3>Filters of {html.esc(conv.name)}</h3>" + html.img(images.png(images.filter_grid(kernel, 360)),
                     f"{conv.name} filters", pixelated=True))
    several = e.several
    chosen = np.arange(min(INSIDE_IMAGES, len(e.y))) if several else np.unique(e.y, return_index=True)[1][:INSIDE_IMAGES]
    names = _spread(default_layers(model), INSIDE_LAYERS)
    x = access.model_inputs(run, e.x[chosen])
    maps = feature_maps(model, x, names)
    # multilabel: the label of the highest score; regression: the first target
    targets = e.probabilities[chosen].argmax(axis=1) if e.task == "multilabel" else \
        np.zeros(len(chosen), dtype=np.int64) if several else e.predicted[chosen]
    cams = grad_cam(model, x, targets, cam_layer(model))
    classes = run.class_map.names
    if cams is None:
        parts.append(html.paragraph("Grad-CAM needs the TensorFlow backend; not drawn."))
    for k, i in enumerate(chosen):
        items = [html.figure(thumb(e.x[i], "image", 112), f"{_who(e, i)} true: {_truth(e, i, classes)}")]
        if cams is not None:
            t = int(targets[k])
            items.append(html.figure(thumb(images.overlay(e.x[i], cams[k]), "Grad-CAM", 112),
                                  f"Grad-CAM of {classes[t]} ({e.probabilities[i, t]:.{2 if e.task != 'regression' else 3}g})"))
        for name, values in zip(names, maps):
            grid = images.feature_grid(values[k], limit=32, target=240)
            items.append(html.figure(html.img(images.png(grid), f"{name} feature maps", pixelated=True),
                                  f"{name} {'x'.join(str(d) for d in values.shape[1:])}"))
        parts.append(f"<h3>{html.esc(e.split.capitalize())} image {html.esc(_who(e, i))}</h3>" + html.gallery(items))
    return "".join(parts)


def augmented(found) -> str:
    """A few training images as training saw them in its first epoch (`cnn augment`'s grid), beside originals."""
    run = found.run
    try:
        png = grid_png(run.config, run.config_source, data_path=run.data_path, subset=run.subset, count=8)
    except CnnError as exc:
        return html.paragraph(f"Not drawn: {exc.message}")
    return (html.paragraph(f"data.augment: {describe(run.config.data.augment)}. Each image after its original "
                           "(cnn augment draws more).") + html.img(png, "augmented training images"))


def _who(e, i: int) -> str:
    """Where example i came from: its file, its CSV row or its array index (as splits.csv and `cnn evaluate
    --mistakes` name it)."""
    sources = getattr(e, "sources", None)
    return sources[i] if sources is not None and i < len(sources) else f"#{i}"


def _truth(e, i: int, classes: list[str]) -> str:
    """What example i is: its class, its labels (multilabel) or its numbers (regression)."""
    if e.task == "multilabel":
        return ", ".join(classes[j] for j in np.flatnonzero(e.y[i])) or "no label"
    if e.task == "regression":
        return ", ".join(f"{v:.4g}" for v in e.y[i])
    return classes[e.y[i]]


def per_label(found) -> str:
    rows = found.evaluated.figures["per_label"]
    body = [[r["label"], html.number(r["precision"]), html.number(r["recall"]), html.number(r["f1"]),
             html.number(r["average_precision"]) if r["average_precision"] is not None else "-",
             html.number(r["support"]), html.number(r["threshold"])] for r in rows]
    return html.paragraph("A label is predicted when its score reaches its threshold (kept in the run's "
                          "labels.json). Click a column's header to sort by it.") + html.table(
        ["label", "precision", "recall", "F1", "AP", "support", "threshold"], body,
        numeric=[False, True, True, True, True, True, True])


def pr_curves(found) -> str:
    e = found.evaluated
    thresholds = [r["threshold"] for r in e.figures["per_label"]]
    return html.img(task_figures.pr_curves(e.y, e.probabilities, found.run.class_map.names, thresholds, None),
                    "precision-recall curve of each label")


def missed_labels(found) -> str:
    """The labels missed most often (present, not predicted), each with its missed examples."""
    e, names = found.evaluated, found.run.class_map.names
    missed = (e.y == 1) & (e.predicted == 0)
    counts = missed.sum(axis=0)
    order = [int(j) for j in np.argsort(-counts, kind="stable") if counts[j] > 0][:PAIRS]
    if not order:
        return html.paragraph("None: every label present is predicted.")
    parts = []
    for j in order:
        where = np.flatnonzero(missed[:, j])[:PAIR_EXAMPLES]
        items = [html.figure(thumb(e.x[i], f"example {i}"), f"{_who(e, i)} score {e.probabilities[i, j]:.2f}") for i in where]
        parts.append(f"<h3>{html.esc(names[j])} missed {int(counts[j])} times of {int(e.y[:, j].sum())}</h3>"
                     + html.gallery(items))
    return "".join(parts)


def per_target(found) -> str:
    rows = found.evaluated.figures["per_target"]
    body = [[r["target"], html.number(r["mae"]), html.number(r["rmse"]), html.number(r["r2"])] for r in rows]
    return html.paragraph("In the data's units.") + html.table(["target", "MAE", "RMSE", "R²"], body,
                                                                numeric=[False, True, True, True])


def residuals(found) -> str:
    e = found.evaluated
    return html.img(task_figures.predicted_vs_true(e.y, e.probabilities, found.run.class_map.names, None),
                    "predicted against true, and the residuals, per target")


def worst(found) -> str:
    e, names = found.evaluated, found.run.class_map.names
    order = np.argsort(-e.losses, kind="stable")[:HARDEST]
    items = [html.figure(thumb(e.x[i], f"example {i}"), f"{_who(e, i)} " + " · ".join(
        f"{n}: true {e.y[i, j]:.4g}, predicted {e.probabilities[i, j]:.4g}" for j, n in enumerate(names[:3])))
        for i in order]
    return html.paragraph(f"The {len(order)} {e.split} images with the largest absolute error, largest first.") \
        + html.gallery(items)


def summary_table(run) -> str:
    analysis, per = access.analysis(run)
    rows, classes = [], []
    for layer in analysis.layers:
        for item, klass in [(layer, ""), *((child, "child") for child in layer.children)]:
            rows.append([f"{item.name} ({item.type})", "x".join(str(d) for d in item.output_shape),
                         html.number(item.params), html.number(item.macs),
                         html.cell(human_bytes(item.activation_elements * per), True, item.activation_elements * per)])
            classes.append(klass)
    total = analysis.activation_elements * per
    rows.append(["total", "", html.number(analysis.total_params), html.number(analysis.total_macs),
                 html.cell(human_bytes(total), True, total)])
    return (html.paragraph(f"Input {'x'.join(map(str, analysis.input_shape))}; trainable params "
                        f"{analysis.trainable_params:,}, non-trainable {analysis.non_trainable_params:,}; activation "
                        f"memory per example at {per} bytes per value.")
            + html.table(["layer (type)", "output shape", "params", "MACs", "activations"], rows, sortable=False,
                      numeric=[False, False, True, True, True], row_classes=classes))


def provenance(found) -> str:
    record, m = access.record(found.run), found.metrics
    command = record.get("command")
    versions = m.get("versions") or {}
    distribute = m.get("distribute") or {}
    device = record.get("device") or m.get("device")
    items = [("command", shlex.join(map(str, command)) if isinstance(command, list) else str(command or "-")),
             ("config file", str(record.get("config_file") or "-")), ("overrides", ", ".join(map(str, record.get("overrides") or [])) or "none"),
             ("data", str(record.get("data_path") or "the config's data: section")), ("subset", str(record.get("subset") or "none")),
             ("seed", str(record.get("seed", m.get("seed", "-")))), ("started", str(record.get("started") or "-")),
             ("finished", str(record.get("finished") or "-")),
             ("wall time", f"{m['wall_seconds']:.1f} s" if isinstance(m.get("wall_seconds"), (int, float)) else "-"),
             ("training time", f"{m['train_seconds']:.1f} s" if isinstance(m.get("train_seconds"), (int, float)) else "-"),
             ("precision", str(m.get("precision") or "-")),
             ("device", str(device) if device else "not recorded by this run"),
             ("distribution", ", ".join(f"{k} {v}" for k, v in distribute.items()) or "-"),
             ("versions", ", ".join(f"{k} {v}" for k, v in versions.items()) or "-"),
             ("resumed", str(len(record.get("resumed") or [])) + " times"),
             ("model file", found.model_file if found.model is not None else "none")]
    return html.definitions(items)
