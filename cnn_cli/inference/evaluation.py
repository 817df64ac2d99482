"""Evaluating a trained run on its test split (or its validation split when it has no test split).

`evaluate_run(run_dir)` loads the run's model (safe mode) and the data the run used (run.json's data_path
and subset, or `data_path`), and measures: loss (Keras' `model.evaluate`, with the loss the model was
compiled with), inference speed (images per second of `model.predict`) and the task's figures
(`cnn_cli.tasks`): for classification accuracy, balanced accuracy, macro F1, per-class precision, recall, F1
and support (scikit-learn), the confusion matrix and the most confused pairs; for multilabel micro and macro
F1, mAP, subset accuracy, Hamming loss and the per-label table at the run's thresholds; for regression MAE,
RMSE and R² in the data's units, overall and per target.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np

from cnn_cli import tasks
from cnn_cli.data.batches import SplitImages, chunk_rows
from cnn_cli.errors import CnnError, DataError
from cnn_cli.inference.tta import flip_probabilities, flip_warning
from cnn_cli.rundir.run_reader import Run, read_run
from cnn_cli.tasks.calibration import imbalance_ratio, is_imbalanced
from cnn_cli.tasks.classification import class_metrics  # noqa: F401 (re-exported: the classification task's)

DEFAULT_BATCH = 256
TOP_CONFUSED = 5


@dataclass
class Split:
    """The examples evaluated: their uint8 images (`SplitImages`: gathered from the data's store only as
    indexed, or a chunk at a time), class indices of the run's class map (another task's label rows), and what
    they are."""

    x: SplitImages
    y: np.ndarray
    name: str  # "test" or "validation"
    origin: str
    note: str = ""
    sources: list[str] = field(default_factory=list)  # where each example came from (file, row, index)


@dataclass
class Evaluation:
    run_dir: str
    split: str
    data: str
    num_examples: int
    loss: float
    accuracy: float | None
    class_names: list[str]
    class_ids: list[Any]
    per_class: list[dict]
    confusion_matrix: list[list[int]]
    most_confused: list[dict]
    images_per_second: float
    seconds: float
    batch_size: int
    note: str = ""
    tta: str | None = None  # "flip": tta_accuracy is of the mean prediction of each image and its mirror
    tta_accuracy: float | None = None
    files: dict[str, str] = field(default_factory=dict)
    loss_definition: str = "cross-entropy"  # the loss the run trained with (the task's loss_words)
    task: str = "classification"
    figures: dict = field(default_factory=dict)  # the task's (`Task.evaluate`): the --json keys of its own
    tta_figures: dict | None = None  # another task's figures of the flip TTA
    mistakes: list[dict] = field(default_factory=list)  # every wrong prediction: source and the task's columns
    mistake_columns: list[str] = field(default_factory=list)  # those columns, `source` first

    def to_dict(self) -> dict:
        return {**self._dict(), "mistakes": self.mistakes}

    def _dict(self) -> dict:
        if self.task != "classification":
            return {
                "run_dir": self.run_dir, "split": self.split, "data": self.data, "task": self.task,
                "num_examples": self.num_examples, "loss": self.loss, "loss_definition": self.loss_definition,
                **self.figures, "names": self.class_names,
                "images_per_second": self.images_per_second, "seconds": self.seconds, "batch_size": self.batch_size,
                "note": self.note or None, "tta": self.tta, "tta_figures": self.tta_figures, "files": self.files,
            }
        return {
            "run_dir": self.run_dir, "split": self.split, "data": self.data, "task": self.task,
            "num_examples": self.num_examples,
            "loss": self.loss, "loss_definition": self.loss_definition, "accuracy": self.accuracy,
            "balanced_accuracy": self.figures.get("balanced_accuracy"), "macro_f1": self.figures.get("macro_f1"),
            "imbalance_ratio": self.figures.get("imbalance_ratio"), "ece": self.figures.get("ece"),
            **{k: self.figures[k] for k in ("ece_before", "temperature") if k in self.figures},
            "macro_avg": _average(self.per_class, weighted=False),
            "weighted_avg": _average(self.per_class, weighted=True),
            "per_class": self.per_class, "class_names": self.class_names, "class_ids": self.class_ids,
            "confusion_matrix": self.confusion_matrix, "most_confused": self.most_confused,
            "images_per_second": self.images_per_second, "seconds": self.seconds, "batch_size": self.batch_size,
            "note": self.note or None, "tta": self.tta, "tta_accuracy": self.tta_accuracy, "files": self.files,
        }

    def to_text(self) -> str:
        if self.task != "classification":
            return self._task_text()
        lines = [
            f"Run: {self.run_dir}",
            f"Data: {self.data}",
            f"Split: {self.split} ({self.num_examples} examples)" + (f" -- {self.note}" if self.note else ""),
            f"Loss: {self.loss:.4f} ({self.loss_definition})   Accuracy: {self.accuracy:.4f}   "
            f"Speed: {self.images_per_second:,.0f} images/s (batch {self.batch_size})",
            "",
            "Per class:",
        ]
        if self.tta_accuracy is not None:
            lines.insert(4, f"Accuracy with {self.tta} TTA: {self.tta_accuracy:.4f} (without: {self.accuracy:.4f})")
        lines[4:4] = calibration_lines(self.figures)
        lines[3:3] = imbalance_lines(self.figures)
        rows = self.per_class
        if is_imbalanced(self.figures.get("imbalance_ratio")):
            rows = worst_first(rows)
            lines[-1] = "Per class (worst F1 first):"
        width = max([len("weighted avg"), *(len(n) for n in self.class_names)])
        lines.append(f"  {'class':<{width}}  precision  recall      f1  support")
        for row in rows:
            lines.append(f"  {row['name']:<{width}}  {row['precision']:>9.4f}  {row['recall']:>6.4f}  "
                         f"{row['f1']:>6.4f}  {row['support']:>7d}")
        for label, avg in (("macro avg", _average(self.per_class, False)),
                           ("weighted avg", _average(self.per_class, True))):
            lines.append(f"  {label:<{width}}  {avg['precision']:>9.4f}  {avg['recall']:>6.4f}  {avg['f1']:>6.4f}  "
                         f"{avg['support']:>7d}")
        lines += ["", "Confusion matrix (rows: true class, columns: predicted class):"]
        lines += ["  " + line for line in confusion_table(self.confusion_matrix, self.class_names)]
        lines += ["", "Most confused (true -> predicted: count):"]
        if self.most_confused:
            lines += [f"  {c['true']} -> {c['predicted']}: {c['count']}" for c in self.most_confused]
        else:
            lines.append("  none: every example is classified correctly")
        lines += ["", self._mistakes_line()]
        if self.files:
            lines += ["", *(f"Wrote {path}" for path in self.files.values())]
        return "\n".join(lines)

    def _mistakes_line(self) -> str:
        if not self.mistakes:
            return "Wrong predictions: none"
        worst = self.mistakes[0]
        return (f"Wrong predictions: {len(self.mistakes)}, each with its source in --json and --mistakes FILE.csv "
                f"(first: {worst['source']})")

    def _task_text(self) -> str:
        task = tasks.lookup(self.task)
        lines = [
            f"Run: {self.run_dir}",
            f"Data: {self.data}",
            f"Task: {self.task}",
            f"Split: {self.split} ({self.num_examples} examples)" + (f" -- {self.note}" if self.note else ""),
            f"Loss: {self.loss:.4f} ({self.loss_definition})   "
            f"Speed: {self.images_per_second:,.0f} images/s (batch {self.batch_size})",
            *task.evaluation_text(self.figures),
        ]
        if self.tta_figures is not None:
            lines += ["", f"With {self.tta} TTA:", *("  " + line for line in task.evaluation_text(self.tta_figures)
                                                      if line and not line.startswith(" "))]
        lines += ["", self._mistakes_line()]
        if self.files:
            lines += ["", *(f"Wrote {path}" for path in self.files.values())]
        return "\n".join(lines)


@dataclass
class Scored:
    """An evaluation with what the pictures of it need: the split's images and labels and the predictions."""

    evaluation: Evaluation
    x: SplitImages
    y: np.ndarray
    probabilities: np.ndarray
    sources: list[str] = field(default_factory=list)


def with_mistakes(evaluation: Evaluation, task, split: Split, outputs: np.ndarray, state) -> Evaluation:
    """The evaluation with its wrong predictions, each with its source (`Task.mistakes`: the task's rule)."""
    columns, rows = task.mistakes(split.y, outputs, evaluation.class_names, state)
    evaluation.mistake_columns = ["source", *columns]
    evaluation.mistakes = [{"source": split.sources[i] if i < len(split.sources) else f"#{i}", **row}
                           for i, row in rows]
    return evaluation


def evaluate_run(run_dir: str | Path | Run, *, data_path: str | None = None, subset: int | None = None,
                 batch_size: int = DEFAULT_BATCH, tta: str = "none") -> Scored:
    """The run's model measured on its test split (else its validation split, or `data_path`'s)."""
    run = run_dir if isinstance(run_dir, Run) else read_run(run_dir)
    model = run.load_model()
    split = load_split(run, data_path=data_path, subset=subset)
    if run.status != "complete":
        click.echo(f"Warning: {run.path}: the run's status is {run.status!r}, not 'complete'", err=True)
    x, y = split.x, split.y
    task = tasks.of(run.config)
    if task.SEVERAL:
        return _evaluate_rows(run, model, split, task, batch_size, tta)
    loss = task.loss_name(run.config)  # categorical when label smoothing, mixup or cutmix trained it
    compiled_loss = getattr(model, "loss", None) if getattr(model, "compiled", False) else None
    if isinstance(compiled_loss, str) and compiled_loss != loss:
        raise CnnError(f"{run.config_source}: train.loss: the model in model.keras was compiled with "
                       f"{compiled_loss!r}, received {loss!r} (was config.yaml edited after training?)")
    if not getattr(model, "compiled", False):  # saved without its compile settings: the loss it trained with
        model.compile(loss=task.loss(run.config), metrics=[task.METRIC])
    flip = tta == "flip"
    if flip:
        warning = flip_warning(run.config.name, split.origin)
        if warning:
            click.echo(warning, err=True)
    results, scores, seconds, tta_accuracy = _passes(run, model, x, y, batch_size, task, flip)
    probabilities = task.outputs(scores, run.targets)  # at the run's temperature when it was calibrated
    predicted = task.predicted(probabilities)
    accuracy = results["accuracy"] if np.isfinite(results["accuracy"]) else float(np.mean(predicted == y))

    names = run.class_map.names
    per_class, matrix = task.per_class(y, predicted, names, run.class_map.ids)
    figures = task.evaluate(y, probabilities, run.targets, names) | _calibration(run, task, y, scores)
    figures["imbalance_ratio"] = _imbalance(run, [row["support"] for row in per_class])
    evaluation = Evaluation(
        run_dir=str(run.path), split=split.name, data=split.origin, num_examples=int(len(y)),
        loss=float(results["loss"]), accuracy=accuracy, class_names=names, class_ids=[_plain(c) for c in run.class_map.ids],
        per_class=per_class, confusion_matrix=matrix.tolist(), most_confused=most_confused(matrix, names),
        images_per_second=round(len(y) / seconds, 1) if seconds > 0 else 0.0, seconds=round(seconds, 4),
        batch_size=batch_size, note=split.note, tta=tta if tta != "none" else None, tta_accuracy=tta_accuracy,
        loss_definition=task.loss_words(run.config), figures=figures,
    )
    with_mistakes(evaluation, task, split, probabilities, run.targets)
    return Scored(evaluation, x, y, probabilities, split.sources)


def _evaluate_rows(run: Run, model, split: Split, task, batch_size: int, tta: str) -> Scored:
    """A multi-label or regression run measured: Keras' loss on the task's targets, the task's figures of its
    outputs (at the run's thresholds; in the data's units), and with `tta` flip the figures of the mean of each
    image's and its mirror's outputs."""
    if not getattr(model, "compiled", False):
        model.compile(loss=task.loss(run.config), metrics=[])
    flip = tta == "flip"
    if flip and run.config.task == "regression" and not (run.config.data is not None and run.config.data.flip_invariant):
        raise CnnError(f"{run.config_source}: data.flip_invariant: --tta flip averages an image's and its mirror's "
                       "numbers, which differ when a flip changes the target; the run's config does not say its "
                       "targets stay the same under a flip")
    state, x, y = run.targets, split.x, split.y
    total, chunks, flipped, seconds = 0.0, [], [], 0.0
    for start, pixels in x.chunks(chunk_rows(run.input_shape, batch_size)):
        inputs = run.model_inputs(pixels)
        targets = task.targets(y[start:start + len(pixels)], state)
        results = model.evaluate(inputs, targets, batch_size=batch_size, verbose=0, return_dict=True)
        total += float(results["loss"]) * len(pixels)
        started = time.perf_counter()
        chunks.append(np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0)))
        seconds += time.perf_counter() - started
        if flip:
            flipped.append(flip_probabilities(lambda p: model.predict(run.model_inputs(p), batch_size=batch_size,
                                                                      verbose=0), pixels, plain=chunks[-1]))
    outputs = task.outputs(np.concatenate(chunks), state)
    names = run.class_map.names
    figures = task.evaluate(y, outputs, state, names) | _calibration(run, task, y, np.concatenate(chunks))
    if task.NAME == "multilabel":
        figures["imbalance_ratio"] = _imbalance(run, np.asarray(y).sum(axis=0))
    tta_figures = task.evaluate(y, task.outputs(np.concatenate(flipped), state), state, names) if flip else None
    evaluation = Evaluation(
        run_dir=str(run.path), split=split.name, data=split.origin, num_examples=int(len(y)),
        loss=total / max(1, len(y)), accuracy=None, class_names=names,
        class_ids=[_plain(c) for c in run.class_map.ids], per_class=[], confusion_matrix=[], most_confused=[],
        images_per_second=round(len(y) / seconds, 1) if seconds > 0 else 0.0, seconds=round(seconds, 4),
        batch_size=batch_size, note=split.note, tta=tta if flip else None, loss_definition=task.loss_words(run.config),
        task=task.NAME, figures=figures, tta_figures=tta_figures,
    )
    with_mistakes(evaluation, task, split, outputs, state)
    return Scored(evaluation, x, y, outputs, split.sources)


def imbalance_lines(figures: dict) -> list[str]:
    """The line before a classification's loss: balanced accuracy and macro F1 first when the classes are 5x or
    more apart (accuracy flatters a model that ignores the rare ones)."""
    ratio = figures.get("imbalance_ratio")
    if not is_imbalanced(ratio):
        return []
    return [f"Balanced accuracy: {figures['balanced_accuracy']:.4f}   Macro F1: {figures['macro_f1']:.4f}   "
            f"(the classes are {ratio:.0f}x apart in size: these lead; accuracy flatters the large ones)"]


def calibration_lines(figures: dict) -> list[str]:
    """The expected calibration error, and before the temperature when the run was calibrated."""
    out = []
    if figures.get("ece") is not None:
        before = figures.get("ece_before")
        out.append(f"Calibration error (ECE, 15 bins): {figures['ece']:.4f}" + (
            f" at temperature {figures['temperature']:.3f} (before: {before:.4f})" if before is not None else ""))
    return out


def worst_first(rows: list[dict]) -> list[dict]:
    """Per-class rows, the lowest F1 first (then the lowest recall)."""
    return sorted(rows, key=lambda r: (r["f1"], r["recall"], r.get("index", 0)))


def _calibration(run: Run, task, y: np.ndarray, scores: np.ndarray) -> dict:
    """A calibrated run's ECE before its temperature and the temperature (nothing for another run)."""
    if run.targets.temperature is None:
        return {}
    plain = dataclasses.replace(run.targets, temperature=None)
    return {"ece_before": task.ece(y, task.outputs(scores, plain)), "temperature": run.targets.temperature}


def _imbalance(run: Run, split_counts) -> float | None:
    """How far apart the classes (labels) are: the largest count over the smallest, of the training split as the
    run counted it (labels.json's `train_counts`), else of the split evaluated."""
    ratio = imbalance_ratio(run.targets.train_counts)
    return ratio if ratio is not None else imbalance_ratio(split_counts)


def _passes(run: Run, model, x: SplitImages, y: np.ndarray, batch_size: int, task: tasks.Task, flip: bool):
    """(Keras' loss and accuracy, probabilities, seconds spent predicting, flip accuracy or None) of the model
    on the split, a chunk of whole batches at a time: no copy of the whole split is made."""
    one_hot = task.one_hot(run.config)
    totals = {"loss": 0.0, "accuracy": 0.0}
    chunks, seconds, flip_correct = [], 0.0, 0
    for start, pixels in x.chunks(chunk_rows(run.input_shape, batch_size)):
        truth = y[start:start + len(pixels)]
        inputs = run.model_inputs(pixels)  # scaled for a format-1 run's model only
        labels = task.encode_targets(truth, run.num_classes, one_hot)
        results = model.evaluate(inputs, labels, batch_size=batch_size, verbose=0, return_dict=True)
        for key in totals:  # Keras' means are over examples: weighted by the chunk's size, they add up
            totals[key] += float(results.get(key, np.nan)) * len(pixels)
        started = time.perf_counter()
        chunks.append(np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0)))
        seconds += time.perf_counter() - started
        if flip:
            both = flip_probabilities(lambda p: model.predict(run.model_inputs(p), batch_size=batch_size, verbose=0),
                                      pixels, plain=chunks[-1])
            flip_correct += int(np.sum(np.argmax(both, axis=1) == truth))
    means = {key: total / max(1, len(y)) for key, total in totals.items()}
    return means, np.concatenate(chunks), seconds, (flip_correct / max(1, len(y)) if flip else None)


def load_split(run: Run, *, data_path: str | None = None, subset: int | None = None) -> Split:
    """The test split of the run's data (or of `data_path`), else its validation split, labelled with the
    run's class indices. Without `data_path`, the run's own data and subset (run.json) are used; with it,
    the whole file (or `subset` of it)."""
    from cnn_cli.data import load_dataset

    config = run.config
    if data_path is None:
        data_path = run.data_path
        if data_path is not None and not Path(os.path.expanduser(data_path)).exists():
            raise CnnError(f"{run.dir.run}: data_path: {data_path!r}, the data the run was trained on, is "
                           "not there (a relative path is relative to the working directory); give --data PATH")
        if subset is None:
            subset = run.subset
    elif config.data is not None:
        # the run's subset was for the run's data, not for this file
        config = config.model_copy(update={"data": config.data.model_copy(update={"subset": None})})
    dataset = load_dataset(config, data_path=data_path, subset=subset, source=run.config_source)
    origin = data_path or _describe_source(config, run.config_source)
    if tuple(dataset.input_shape) != run.input_shape:
        raise DataError(origin, f"images are {_dims(dataset.input_shape)}, the model takes {_dims(run.input_shape)}")
    if dataset.test is not None and len(dataset.test):
        index, name, note = dataset.test, "test", ""
    elif dataset.validation is not None and len(dataset.validation):
        index, name = dataset.validation, "validation"
        note = "the data has no test split; evaluating on the validation split"
    else:
        raise DataError(origin, "no test split and no validation split to evaluate on")
    x, y = SplitImages(dataset.images, index), dataset.labels[index]
    if np.asarray(y).ndim == 2:  # label rows (multilabel, regression): the run's names, in the run's order
        if dataset.class_map.names != run.class_map.names:
            raise DataError(origin, f"its {dataset.kind} are {', '.join(dataset.class_map.names)}; the run's are "
                            f"{', '.join(run.class_map.names)}")
        return Split(x=x, y=np.asarray(y), name=name, origin=dataset.origin or origin, note=note,
                     sources=dataset.source_of(index))
    if dataset.class_map != run.class_map:  # other data: its own indices -> the run's indices, by label id
        ids = np.array(dataset.class_map.ids, dtype=object)[y]
        y = run.class_map.encode(ids.tolist(), f"{origin} ({name} split)")
    return Split(x=x, y=np.asarray(y, dtype=np.int32), name=name, origin=dataset.origin or origin, note=note,
                 sources=dataset.source_of(index))


def most_confused(matrix: np.ndarray, names: list[str], top: int = TOP_CONFUSED) -> list[dict]:
    """The largest off-diagonal cells: (true -> predicted, count), most frequent first."""
    off = np.array(matrix, dtype=np.int64)
    np.fill_diagonal(off, 0)
    cells = [(int(off[i, j]), int(i), int(j)) for i, j in zip(*np.nonzero(off))]
    cells.sort(key=lambda c: (-c[0], c[1], c[2]))
    return [{"true": names[i], "predicted": names[j], "true_index": i, "predicted_index": j, "count": n}
            for n, i, j in cells[:top]]


def confusion_table(matrix: list[list[int]], names: list[str]) -> list[str]:
    """The confusion matrix as text, rows and columns labelled with the class names."""
    cells = [[str(v) for v in row] for row in matrix]
    width = max([len(n) for n in names] + [len(c) for row in cells for c in row])
    corner = "true\\pred"
    label = max([len(n) for n in names] + [len(corner)])
    head = f"{corner:<{label}} " + " ".join(f"{n:>{width}}" for n in names)
    return [head] + [f"{n:<{label}} " + " ".join(f"{c:>{width}}" for c in row) for n, row in zip(names, cells)]


def _average(rows: list[dict], weighted: bool) -> dict:
    support = np.array([r["support"] for r in rows], dtype=np.float64)
    weights = support if weighted else np.ones_like(support)
    total = weights.sum()
    out = {key: float(np.dot(weights, [r[key] for r in rows]) / total) if total else 0.0
           for key in ("precision", "recall", "f1")}
    return {**out, "support": int(support.sum())}


def _describe_source(config, config_source: str = "config.yaml") -> str:
    data = config.data
    if data is None:
        raise CnnError(f"{config_source}: data: the run's config has no data: section; give --data PATH")
    where = data.path or (data.test if isinstance(data.test, str) else None) or (data.train if isinstance(data.train, str) else None)
    return f"{data.source} data" + (f" {where}" if where else "")


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _dims(shape) -> str:
    return "x".join(str(d) for d in shape)
