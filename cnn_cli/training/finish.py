"""The end of a run: the final evaluation's metrics (metrics.json), the labels, summary.txt, the training
curves, and the lines printed for the user."""

from __future__ import annotations

import math
import platform
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnn_cli import rundir, tasks
from cnn_cli.config.phases import spans
from cnn_cli.config.train import improves
from cnn_cli.number_format import to_float
from cnn_cli.reports.training_curves import plot_curves


@dataclass(frozen=True)
class FinalScores:
    """Loss and metrics of the final model on the validation and test splits (None: no such split)."""

    val: dict | None
    test: dict | None


def best_epoch(rows: list[dict], monitor: str) -> tuple[int | None, float | None]:
    """The 1-based epoch of history.csv's rows where `monitor` was best, and its value."""
    best: tuple[int | None, float | None] = (None, None)
    for row in rows:
        value = to_float(row.get(monitor))
        if value is not None and math.isfinite(value) and improves(monitor, value, best[1]):
            best = (int(row["epoch"]), value)
    return best


def metrics_record(*, scores: FinalScores, rows: list[dict], monitor: str, run: dict[str, Any]) -> dict:
    """metrics.json: the final scores, the best epoch by `monitor`, and `run`'s facts (seed, precision, ...)."""
    val, test = scores.val, scores.test
    epoch, value = best_epoch(rows, monitor)
    return {
        "val_loss": val and val.get("loss"), "val_accuracy": val and val.get("accuracy"),
        "val_examples": val and val["examples"],
        "test_loss": test and test.get("loss"), "test_accuracy": test and test.get("accuracy"),
        "test_examples": test and test["examples"],
        "train_examples": run["train_examples"],
        "best_epoch": epoch, "best_monitor": monitor, "best_value": value,
        "epochs_run": len(rows), "epochs_planned": run["epochs_planned"], "early_stopped": run["early_stopped"],
        "restored_best_weights": run["restored_best_weights"], "models": run.get("models"),
        "training_images": run.get("training_images"), "params": run.get("params"), "macs": run.get("macs"),
        "wall_seconds": round(time.perf_counter() - run["started"], 3),
        "train_seconds": round(sum(float(r["seconds"] or 0) for r in rows), 3),
        "seed": run["seed"], "precision": run["precision"], "resumed": run["resumed"],
        "distribute": run["distribute"], "backend": run.get("backend"), "device": run.get("device"),
        "versions": {"python": platform.python_version(), **run["versions"]},
    }


def task_record(task: str, scores: FinalScores) -> dict:
    """metrics.json's `task` and, for a multi-label or regression run, its figures of each split beside the
    loss (`val_micro_f1`, `test_mae`, ...: the figures of `cnn evaluate`, at the run's thresholds, in units);
    a classification run's balanced accuracy, macro F1 and ECE where they were measured (a calibrated or
    imbalanced run), and a calibrated run's `ece_before` and `temperature`."""
    out: dict = {"task": task}
    for name, split in (("val", scores.val), ("test", scores.test)):
        for key, value in (split or {}).items():
            if key not in ("loss", "examples", "accuracy", "accuracy_tta"):
                out[f"{name}_{key}"] = value
    return out


def phases_record(train, rows: list[dict]) -> dict:
    """metrics.json's `phases` for a run in phases (`train.phases`, two or more): each phase's number, the first
    and last epoch its config planned (1-based), the epochs it ran (history.csv's `phase` column), its freeze
    and its learning rate as configured (the phase's, else the optimizer's; null: the optimizer's default).
    A run without phases gets no key (`rundir.records.MetricsJson`)."""
    all_spans = spans(train)
    if len(all_spans) < 2:
        return {}
    ran = Counter(int(r["phase"]) for r in rows if r.get("phase") not in (None, ""))
    return {"phases": [{
        "phase": s.number, "first_epoch": s.start + 1, "last_epoch": s.end, "epochs_run": ran[s.number],
        "freeze": s.freeze.model_dump(mode="json", exclude_none=True) if s.freeze is not None else None,
        "learning_rate": s.learning_rate if s.learning_rate is not None else train.optimizer.learning_rate,
        "lr_schedule": s.lr_schedule.type if s.lr_schedule is not None else None,
    } for s in all_spans]}


def which_models(rows: list[dict], *, checkpoint: str | None, restored_by: str | None,
                 watched_from: int = 1) -> dict:
    """metrics.json's `models`: what model.keras and best.keras hold. `checkpoint` is the checkpoint's monitor
    (None: no best.keras), `restored_by` early stopping's monitor when it restored its best weights, which it
    watched from epoch `watched_from` on (a run in phases: the last phase's first)."""
    if restored_by is not None:
        epoch, _ = best_epoch([r for r in rows if int(r["epoch"]) >= watched_from], restored_by)
        final = f"the best epoch's weights by {restored_by} (epoch {epoch}), restored by early stopping"
    else:
        final = f"the last epoch's weights (epoch {len(rows)})"
    best = None
    if checkpoint is not None:
        epoch, _ = best_epoch(rows, checkpoint)
        best = f"the best epoch by {checkpoint} (epoch {epoch})"
    return rundir.models_record(final, best)


def write_reports(run_dir: rundir.RunDir, *, metrics: dict, class_map, summary_text: str, rows: list[dict],
                  title: str, task: str | None = None, state=None) -> None:
    """metrics.json, labels.json (with the task and what it keeps of its targets, `state`, for a task other than
    classification), summary.txt and training_curves.png; the records checked by their schemas before they are
    written."""
    run_dir.write_metrics(rundir.MetricsJson.model_validate(metrics))
    labels = {"classes": class_map.to_json()}
    if task not in (None, "classification"):  # the config's task (None: classification)
        labels |= {"task": task}
    labels |= state.to_json() if state is not None else {}
    run_dir.write_labels(rundir.LabelsJson.model_validate(labels))
    run_dir.write_summary(summary_text + "\n")
    plot_curves(rows, run_dir.curves, title=title)


def tell_result(echo: Callable[[str], None], *, scores: FinalScores, rows: list[dict], run_dir: Path,
                early_stopped: bool, best: int | None, monitor: str, loss: str = "cross-entropy",
                task: str = "classification") -> None:
    """The lines `cnn train` prints at the end; `loss` says what the loss figure is (`config.train.loss_words`)."""
    if early_stopped:
        echo(f"Early stopping after epoch {len(rows)} (best epoch {best}, {monitor})")
    final, label = (scores.test, "Test") if scores.test else (scores.val, "Validation") if scores.val else (None, "")
    if final is not None and "accuracy" in final:
        echo(f"{label} accuracy: {final['accuracy']:.4f} (loss {final['loss']:.4f}, {loss}) on {final['examples']} "
             "examples")
    elif final is not None and task != "classification":
        keys = ("micro_f1", "mean_average_precision") if task == "multilabel" else ("mae", "rmse", "r2")
        said = ", ".join(f"{k} {final[k]:.4f}" for k in keys if final.get(k) is not None)
        echo(f"{label} {said} (loss {final['loss']:.4f}, {loss}) on {final['examples']} examples")
    elif final is not None:
        echo(f"{label} loss: {final['loss']:.4f} ({loss}) on {final['examples']} examples")
    else:
        echo(f"Final training loss: {rows[-1]['loss'] if rows else 'n/a'} (no validation or test split)")
    echo(f"Run directory: {run_dir}")


def tell_recipe(echo: Callable[[str], None], metrics: dict) -> None:
    """The lines of the recipe's extras: the flip TTA figures, where a stop_at target was reached, a time limit."""
    task = tasks.lookup(metrics.get("task") or tasks.DEFAULT)
    for split, label in (("test", "Test"), ("val", "Validation")):
        said = [f"{label} {words} with flip TTA: {metrics[f'{split}_{key}_tta']:.4f} (without: "
                f"{metrics[f'{split}_{key}']:.4f})" for key, words in task.FIGURES.items()
                if metrics.get(f"{split}_{key}_tta") is not None and metrics.get(f"{split}_{key}") is not None]
        for line in said:
            echo(line)
        if said:
            break
    stop = metrics.get("stop_at")
    if stop is not None:
        target = ", ".join(f"{k} {v}" for k, v in stop["target"].items()) + \
            (f" ({task.TRAINING_UNITS})" if task.TRAINING_UNITS else "")
        echo(f"Target {target} reached at epoch {stop['epoch']}, {stop['seconds']:.1f} s" if stop["reached"]
             else f"Target {target} not reached")
    limit = metrics.get("time_limit")
    if limit is not None and limit["stopped"]:
        echo(f"Time limit of {limit['seconds']:g} s: stopped after epoch {limit['epoch']}")
