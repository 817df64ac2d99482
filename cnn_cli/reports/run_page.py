"""`cnn report`: one self-contained HTML page of a trained run (see `html.py` for what self-contained means).

It reads the run directory (config, run.json, metrics.json, history.csv, the model), makes one pass of the
model over the run's test split (its validation split when it has none, as `cnn evaluate` does), and lays out:
final metrics, training curves, per-class precision/recall/F1, the confusion matrix with class names, the most
confused pairs with example images, the test images with the highest loss, feature maps and Grad-CAM for a few
test images, the model's summary (params, MACs, memory per layer), the config, and how the run was made.
A run that did not finish, or whose data cannot be read, still gets a page that says so at the top."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnn_cli import tasks
from cnn_cli.data.batches import SplitImages
from cnn_cli.errors import CnnError
from cnn_cli.reports import access, html, reliability
from cnn_cli.reports import run_page_sections as sections

BATCH = 256
EPSILON = 1e-7  # Keras' clipping of probabilities in the cross-entropy


@dataclass
class Pass:
    """The model's predictions over one split: probabilities, predicted class and loss per example."""

    x: SplitImages  # the split's images, gathered as indexed
    y: np.ndarray
    split: str
    origin: str
    probabilities: np.ndarray
    per_class: list[dict]
    matrix: np.ndarray
    note: str = ""
    label_smoothing: float = 0.0  # the run's: the loss is the one it trained with, as `cnn evaluate` reports
    task: str = "classification"  # another task's outputs: each label's score, or numbers in the data's units
    state: object = None  # the run's `TargetState` (thresholds, mean and std)
    figures: dict = field(default_factory=dict)  # another task's figures (`Task.evaluate`)
    sources: list[str] = field(default_factory=list)  # where each example came from (file, row or index)

    @property
    def several(self) -> bool:
        return self.task != "classification"

    @property
    def predicted(self) -> np.ndarray:
        if self.several:
            return tasks.lookup(self.task).predicted(self.probabilities, self.state)
        return self.probabilities.argmax(axis=1)

    @property
    def losses(self) -> np.ndarray:
        """Each example's cross-entropy against its label smoothed as in training (Keras' clipping); a
        multi-label example's mean binary cross-entropy over its labels; a regression example's mean absolute
        error over its targets, in the data's units."""
        if self.task == "regression":
            return np.abs(self.probabilities - self.y).mean(axis=1)
        if self.task == "multilabel":
            p = np.clip(self.probabilities, EPSILON, 1.0 - EPSILON)
            return -(self.y * np.log(p) + (1 - self.y) * np.log(1 - p)).mean(axis=1)
        logs = -np.log(np.clip(self.probabilities, EPSILON, 1.0 - EPSILON))
        true = logs[np.arange(len(self.y)), self.y]
        s = self.label_smoothing
        return (1.0 - s) * true + s * logs.mean(axis=1) if s > 0 else true

    @property
    def accuracy(self) -> float | None:
        if self.several:
            return None
        return float(np.mean(self.predicted == self.y)) if len(self.y) else 0.0


@dataclass
class ReportInput:
    """Everything the page shows, read once."""

    run: object
    metrics: dict
    history: list
    model: object = None
    model_file: str = ""
    evaluated: Pass | None = None
    banners: list[str] = field(default_factory=list)


def evaluate(run, model, data_path: str | None) -> Pass:
    """One pass of the model over the run's test split (else its validation split)."""
    split = access.load_split(run, data_path=data_path)
    scores = [np.asarray(model.predict_on_batch(access.model_inputs(run, pixels)), dtype=np.float64)
              for _, pixels in split.x.chunks(BATCH)]  # a batch of the split at a time
    scores = np.concatenate(scores) if scores else np.zeros((0, run.num_classes))
    task = tasks.of(run.config)
    state = getattr(run, "targets", None)
    probabilities = task.outputs(scores, state) if state is not None else task.outputs(scores)
    per_class, matrix = task.per_class(split.y, task.predicted(probabilities, state) if state is not None
                                       else task.predicted(probabilities), run.class_map.names, run.class_map.ids)
    figures = task.evaluate(split.y, probabilities, state, run.class_map.names) if task.SEVERAL else {}
    return Pass(x=split.x, y=split.y, split=split.name, origin=split.origin, probabilities=probabilities,
                per_class=per_class, matrix=matrix, note=split.note, label_smoothing=run.config.train.label_smoothing,
                task=task.NAME, state=state, figures=figures, sources=split.sources)


def gather(run_dir: str, data_path: str | None = None) -> ReportInput:
    run = access.open_run(run_dir)
    found = ReportInput(run=run, metrics=access.read_metrics(run), history=access.read_history_of(run))
    if run.status != "complete":
        found.banners.append(f"This run is incomplete: its status is {run.status!r}"
                             + (" (cnn train --resume RUN_DIR finishes it)." if run.status == "interrupted" else "."))
    found.model, found.model_file = access.load_model(run, required=False)
    if found.model is None:
        found.banners.append(f"No model to evaluate: {found.model_file}. Sections that need the model are left out.")
        return found
    if found.model_file != run.dir.model_path.name:
        found.banners.append(f"The run has no final model yet; the model shown is its best checkpoint {found.model_file}.")
    try:
        found.evaluated = evaluate(run, found.model, data_path)
    except CnnError as exc:
        found.banners.append(f"The data could not be read, so there is no evaluation: {exc.message}")
        return found
    if found.evaluated.note:
        found.banners.append(f"This report is on the validation split: {found.evaluated.note}.")
    return found


def build(found: ReportInput) -> str:
    run = found.run
    parts = [("results", "Results", sections.results(found)),
             ("curves", "Training curves", sections.curves(found))]
    if found.evaluated is not None:  # the sections of an evaluation that the run's task has, in its order
        offered = {"classes": ("Per class", sections.per_class), "confusion": ("Confusion matrix", sections.confusion),
                   "confused": ("Most confused pairs", sections.confused_pairs),
                   "hardest": ("Highest loss", sections.hardest), "inside": ("Inside the model", sections.inside),
                   "labels": ("Per label", sections.per_label), "pr_curves": ("Precision and recall", sections.pr_curves),
                   "missed": ("Most-missed labels", sections.missed_labels),
                   "targets": ("Per target", sections.per_target),
                   "residuals": ("Predicted against true", sections.residuals),
                   "worst": ("Worst examples", sections.worst),
                   "reliability": ("Reliability of the probabilities", reliability.section)}
        parts += [(key, offered[key][0], offered[key][1](found)) for key in tasks.of(run.config).REPORT_SECTIONS]
    augment = run.config.data.augment if run.config.data is not None else None
    if augment is not None and found.model is not None:
        parts.append(("augment", "Augmented training images", sections.augmented(found)))
    parts += [("model", "Model", sections.summary_table(run)),
              ("config", "Config", html.pre(access.config_text(run))),
              ("how", "How the run was made", sections.provenance(found))]
    subtitle = f"{run.path} · status {run.status}"
    if found.evaluated is not None:
        subtitle += f" · {found.evaluated.split} split of {found.evaluated.origin}"
    return html.page(f"{run.config.name}: run report", subtitle, found.banners, parts)


def write_report(run_dir: str, out: str | None = None, data_path: str | None = None) -> str:
    """Writes the page (default RUN_DIR/report.html) and returns a line saying where and how large."""
    started = time.perf_counter()
    found = gather(run_dir, data_path)
    page = build(found).encode("utf-8")
    path = access.output_path(out, found.run.dir.report)
    if path.exists() and not path.is_file():
        raise CnnError(f"{path}: exists and is not a file; give -o FILE")
    try:
        access.write_atomic(path, page)
    except CnnError as exc:
        raise CnnError(f"{exc.message}; give -o FILE to write the report elsewhere") from None
    seconds = time.perf_counter() - started
    notes = "".join(f"\nNote: {banner}" for banner in found.banners)
    return f"Wrote {Path(path)} ({len(page) / 1e6:.2f} MB) in {seconds:.1f}s{notes}"
