"""What `cnn evaluate` writes into the run directory: evaluation.json, the confusion matrix and the gallery of
misclassified examples (PNG), each written atomically, from `cnn_cli.inference.evaluation`'s measurements."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnn_cli.errors import CnnError
from cnn_cli.inference.evaluation import DEFAULT_BATCH, Evaluation, evaluate_run
from cnn_cli.reports.plots import plot_confusion, write_mistakes
from cnn_cli.rundir.atomic import save_atomic, write_json
from cnn_cli.rundir.run_reader import read_run


def evaluate_and_write(run_dir: str | Path, *, data_path: str | None = None, subset: int | None = None,
                       batch_size: int = DEFAULT_BATCH, write_files: bool = True, tta: str = "none") -> Evaluation:
    """`evaluate_run`, then its files (unless `write_files` is false); a place that cannot take them is refused
    before the model is loaded."""
    run = read_run(run_dir)
    outputs = [run.dir.confusion, run.dir.evaluation, run.dir.mistakes]  # a symlink leading out: refused first
    for path in outputs if write_files else ():
        if path.exists() and not path.is_file():
            raise CnnError(f"{path}: exists and is not a file; cannot write the evaluation there")
    scored = evaluate_run(run, data_path=data_path, subset=subset, batch_size=batch_size, tta=tta)
    evaluation = scored.evaluation
    if not write_files:
        return evaluation
    png, report, gallery = outputs
    names = evaluation.class_names
    try:
        save_atomic(png, lambda tmp: plot_confusion(np.asarray(evaluation.confusion_matrix), names, tmp,
                                                    title=f"{run.config.name}: {evaluation.split} split"))
        save_atomic(gallery, lambda tmp: write_mistakes(scored.x, scored.y, scored.probabilities, names, tmp))
        evaluation.files = {"confusion_matrix": str(png), "mistakes": str(gallery), "evaluation": str(report)}
        write_json(report, evaluation.to_dict())
    except OSError as exc:
        raise CnnError(f"{run.path}: cannot write {report.name}, {png.name} and {gallery.name} into the run directory "
                       f"({exc.strerror or exc}); use --no-write to only print") from None
    return evaluation
