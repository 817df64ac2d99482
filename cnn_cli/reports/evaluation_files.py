"""What `cnn evaluate` writes into the run directory: evaluation.json, the confusion matrix and the gallery of
misclassified examples (PNG), each written atomically, from `cnn_cli.inference.evaluation`'s measurements."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from cnn_cli.errors import CnnError
from cnn_cli.inference.evaluation import DEFAULT_BATCH, Evaluation, evaluate_run
from cnn_cli.reports.plots import plot_confusion, write_mistakes
from cnn_cli.reports.task_figures import task_figure
from cnn_cli.rundir.atomic import save_atomic, write_atomic, write_json
from cnn_cli.rundir.run_reader import read_run


def evaluate_and_write(run_dir: str | Path, *, data_path: str | None = None, subset: int | None = None,
                       batch_size: int = DEFAULT_BATCH, write_files: bool = True, tta: str = "none",
                       mistakes: str | Path | None = None) -> Evaluation:
    """`evaluate_run`, then its files (unless `write_files` is false) and, with `mistakes`, the CSV of the wrong
    predictions there; a place that cannot take them is refused before the model is loaded."""
    run = read_run(run_dir)
    if mistakes is not None:
        _refuse_non_files([Path(mistakes)])
    evaluation = _evaluate_and_write(run, data_path=data_path, subset=subset, batch_size=batch_size,
                                     write_files=write_files, tta=tta)
    if mistakes is not None:
        write_mistakes_csv(Path(mistakes), evaluation)
        evaluation.files = {**evaluation.files, "mistakes_csv": str(mistakes)}
    return evaluation


def write_mistakes_csv(path: Path, evaluation: Evaluation) -> None:
    """`source,true,predicted,score` (the task's columns) for every wrong prediction, written atomically."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=evaluation.mistake_columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(evaluation.mistakes)
    try:
        write_atomic(path, out.getvalue())
    except OSError as exc:
        raise CnnError(f"{path}: cannot write the mistakes ({exc.strerror or exc})") from None


def _evaluate_and_write(run, *, data_path, subset, batch_size, write_files, tta) -> Evaluation:
    if run.task.SEVERAL:
        return _rows_evaluation(run, data_path=data_path, subset=subset, batch_size=batch_size,
                                write_files=write_files, tta=tta)
    outputs = [run.dir.confusion, run.dir.evaluation, run.dir.mistakes]  # a symlink leading out: refused first
    if write_files:
        _refuse_non_files(outputs)
    scored = evaluate_run(run, data_path=data_path, subset=subset, batch_size=batch_size, tta=tta)
    evaluation = scored.evaluation
    if not write_files:
        return evaluation
    png, report, gallery = outputs
    names = evaluation.class_names
    try:
        save_atomic(png, lambda tmp: plot_confusion(np.asarray(evaluation.confusion_matrix), names, tmp,
                                                    title=f"{run.config.name}: {evaluation.split} split"))
        save_atomic(gallery, lambda tmp: write_mistakes(scored.x, scored.y, scored.probabilities, names, tmp,
                                                        sources=scored.sources))
        evaluation.files = {"confusion_matrix": str(png), "mistakes": str(gallery), "evaluation": str(report)}
        write_json(report, evaluation.to_dict())
    except OSError as exc:
        raise _write_error(run, [report, png, gallery], exc) from None
    return evaluation


def _rows_evaluation(run, *, data_path, subset, batch_size, write_files, tta) -> Evaluation:
    """A multi-label or regression run's evaluation and its files: evaluation.json and evaluation.png (the
    precision-recall curves, or predicted against true with the residuals)."""
    outputs = [run.dir.task_figure, run.dir.evaluation]
    if write_files:
        _refuse_non_files(outputs)
    scored = evaluate_run(run, data_path=data_path, subset=subset, batch_size=batch_size, tta=tta)
    evaluation = scored.evaluation
    if not write_files:
        return evaluation
    png, report = outputs
    thresholds = [r["threshold"] for r in evaluation.figures.get("per_label", [])]
    try:
        save_atomic(png, lambda tmp: task_figure(evaluation.task, scored.y, scored.probabilities,
                                                 evaluation.class_names, thresholds, tmp,
                                                 title=f"{run.config.name}: {evaluation.split} split"))
        evaluation.files = {"figure": str(png), "evaluation": str(report)}
        write_json(report, evaluation.to_dict())
    except OSError as exc:
        raise _write_error(run, [report, png], exc) from None
    return evaluation


def _refuse_non_files(paths: list[Path]) -> None:
    """A place for evaluate's files that holds something other than a file is refused before any work."""
    for path in paths:
        if path.exists() and not path.is_file():
            raise CnnError(f"{path}: exists and is not a file; cannot write the evaluation there")


def _write_error(run, paths: list[Path], exc: OSError) -> CnnError:
    names = [path.name for path in paths]
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    return CnnError(f"{run.path}: cannot write {listed} into the run directory ({exc.strerror or exc}); use "
                    "--no-write to only print")
