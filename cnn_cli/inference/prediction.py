"""Predicting for new inputs with a trained run's model: what is said of each is the run's task's
(`cnn_cli.tasks`; classification: the top-k classes with their probabilities).

Inputs are image files (PNG, JPEG, anything Pillow reads: converted to the model's channels -- grayscale,
RGB or RGBA -- and resized to its height and width as the run's `data.resize` says; decoded together, in
parallel, and through the decoded-image cache when there are many) or CSV files in the run's layout (a header line, an
optional label column `data.label_column`, which is ignored, and H*W*C pixel columns 0..255). The model takes
the pixels as they are (0..255); the model of a run written before pixel scaling moved into the model
(run.json format 1) gets them divided by 255, as it was trained (`Run.model_inputs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_cli import tasks
from cnn_cli.errors import CnnError, DataError
from cnn_cli.inference.background import border_means, opposite_background
from cnn_cli.rundir.run_reader import read_run
from cnn_cli.tasks.base import NO_STATE
from cnn_cli.tasks.classification import as_probabilities  # noqa: F401 (re-exported: the classification task's)

DEFAULT_BATCH = 256


@dataclass
class Item:
    """One example to predict: its name (the file, or `file:row` for a CSV row) and uint8 pixels (H, W, C)."""

    name: str
    pixels: np.ndarray
    file: str
    row: int | None = None


def read_file(path: str, input_shape: tuple[int, int, int], label_column: str = "label") -> list[Item]:
    """The examples of one file: an image, or a CSV file's rows; a `DataError` naming it when it cannot be read."""
    file = Path(path)
    if not file.exists():
        raise DataError(path, "no such file")
    if not file.is_file():
        raise DataError(path, "not a file (expected an image or a CSV file)")
    if file.suffix.lower() == ".csv":
        return read_csv_rows(path, input_shape, label_column)
    return [Item(name=path, pixels=read_image(path, input_shape), file=path)]


def read_image(path: str, input_shape: tuple[int, int, int], resize: str = "stretch") -> np.ndarray:
    """An image file as uint8 (H, W, C) in the model's size (`resize`: the run's data.resize) and channels."""
    from cnn_cli.data.images import MODES
    from cnn_cli.data.images import read_image as read

    if input_shape[2] not in MODES:
        raise CnnError(f"the model takes {input_shape[2]}-channel images; only 1 (grayscale), 3 (RGB) and 4 (RGBA) "
                       "can be made from image files")
    return read(path, input_shape, resize)


def read_csv_rows(path: str, input_shape: tuple[int, int, int], label_column: str = "label") -> list[Item]:
    """The rows of a CSV file in the training layout; the label column, if present, is ignored."""
    from cnn_cli.data.sources.csv import pixels_uint8, read_frame

    frame = read_frame(path)
    if len(frame) == 0:
        raise DataError(path, "no data rows, only a header line")
    pixels = frame.drop(columns=[label_column]) if label_column in frame.columns else frame
    expected = int(np.prod(input_shape))
    if pixels.shape[1] != expected:
        without = f" (every column but {label_column!r})" if label_column in frame.columns else ""
        raise DataError(path, f"{pixels.shape[1]} pixel columns{without}, expected {expected} for the model's "
                        f"{'x'.join(map(str, input_shape))} images")
    images = pixels_uint8(pixels, path).reshape((len(frame), *input_shape))
    return [Item(name=f"{path}:{i + 1}", pixels=images[i], file=path, row=i + 1) for i in range(len(images))]


def predict_inputs(run_dir: str | Path, paths: list[str], top_k: int = 3, batch_size: int = DEFAULT_BATCH) -> dict:
    """`{"run_dir", "task", "predictions": [...], "skipped": [{"file", "reason"}], "failed": N}`: one prediction per
    example in input order, `{"input", "file", "row", "top": [{"name", "id", "index", "probability"}]}` (the
    classification task's `prediction`; another task's keys, and then `"task"`, its name, in the result) (with
    `"warning"` when its background is the opposite of the training images'), or `{"input", "file", "error"}`
    for a file that cannot be read (the others are still predicted; with the run's `data.bad_images: skip` it
    is listed in "skipped" instead). Folders are opened; the files `cnn train` skips are skipped
    (`readers.inputs`). Image files are decoded as the run's training images were (`data.resize`), in
    parallel and, when there are many, through the decoded-image cache (`data.files`)."""
    from cnn_cli.inference.input_files import gather

    run = read_run(run_dir)
    model = run.load_model()
    data = run.config.data
    found = gather(list(paths))
    if not found.files:
        why = f"; {found.skipped_line()}" if found.skipped else ""
        raise DataError(", ".join(paths), f"nothing to predict: no image (.png, .jpg, .jpeg) or CSV files{why}")
    skipped = list(found.skipped)
    entries, items = _read_inputs(found.files, run.input_shape, data, skipped)
    k = max(1, min(int(top_k), run.num_classes))
    classes = run.class_map.entries
    task = tasks.of(run.config)
    training_border = _training_border(run)
    for entry, (outputs, border) in zip([e for e in entries if "item" in e], _predicted(run, model, items, batch_size)):
        del entry["item"]
        # a run that keeps no target state (classification) asks as before: a task may predate `state`
        entry.update(task.prediction(outputs, classes, k, run.targets) if run.targets != NO_STATE
                     else task.prediction(outputs, classes, k))
        warning = opposite_background(float(border), training_border) if entry["row"] is None else None
        if warning:
            entry["warning"] = warning
    return {"run_dir": str(run.path), "task": task.NAME, "predictions": entries,
            "skipped": [{"file": f, "reason": why} for f, why in skipped],
            "failed": sum(1 for e in entries if "error" in e)}


def _read_inputs(files: list[str], input_shape, data, skipped: list) -> tuple[list[dict], list[tuple]]:
    """The entries of `files` in order (an error entry for an unreadable file, or one entry per example with
    `"item"`) and the items: (array, row) of each example's pixels. The image files are decoded together."""
    from cnn_cli.data.files import decode_files
    from cnn_cli.data.images import MODES

    label_column = data.label_column if data is not None else "label"
    images = list(dict.fromkeys(f for f in files if Path(f).is_file() and Path(f).suffix.lower() != ".csv"))
    if input_shape[2] not in MODES:
        images = []  # read_file says why, file by file
    decoded = None
    if images:
        decoded = decode_files(images, tuple(input_shape), resize=data.resize if data is not None else "stretch",
                               cache=data.cache if data is not None else "auto")
    row_of = {path: i for i, path in enumerate(images)}
    skip = data is not None and data.bad_images == "skip"
    entries: list[dict] = []
    items: list[tuple] = []
    for path in files:
        if path in row_of:
            row = row_of[path]
            if row in decoded.bad and skip:
                skipped.append((path, decoded.bad[row].removeprefix(f"{path}: ")))
            elif row in decoded.bad:
                entries.append({"input": path, "file": path, "row": None, "error": decoded.bad[row]})
            else:
                entries.append({"input": path, "file": path, "row": None, "item": len(items)})
                items.append((decoded.images, row))
            continue
        try:
            read = read_file(path, input_shape, label_column)
        except CnnError as exc:
            entries.append({"input": path, "file": path, "row": None, "error": exc.message})
            continue
        entries += [{"input": item.name, "file": item.file, "row": item.row, "item": len(items) + i}
                    for i, item in enumerate(read)]
        items += [(item.pixels[None], 0) for item in read]
    return entries, items


CHUNK_BYTES = 32 * 2**20  # pixels gathered at a time for the model (and the background check)


def _predicted(run, model, items: list[tuple], batch_size: int):
    """(outputs as the run's task reads them -- probabilities --, border mean) of each item, in order, gathered
    and predicted a chunk at a time."""

    if not items:
        return
    per_chunk = max(batch_size, CHUNK_BYTES // max(1, int(np.prod(run.input_shape))))
    for start in range(0, len(items), per_chunk):
        pixels = np.stack([array[row] for array, row in items[start:start + per_chunk]])
        x = run.model_inputs(pixels)  # scaled for a format-1 run's model only
        scores = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
        task = tasks.of(run.config)
        outputs = task.outputs(scores, run.targets) if run.targets != NO_STATE else task.outputs(scores)
        yield from zip(outputs, border_means(pixels))


def _training_border(run) -> float | None:
    """The training images' mean border pixel that `cnn train` recorded in metrics.json (None: not recorded)."""

    if not run.dir.metrics.is_file():
        return None
    recorded = getattr(run.dir.read_metrics(), "training_images", None)
    value = recorded.get("border_mean") if isinstance(recorded, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def predictions_text(result: dict) -> list[tuple[str, bool]]:
    """The lines `cnn predict` prints, in input order, each with whether it goes to stderr (errors, warnings,
    the skipped files); each prediction's line says what its task says of it."""
    task = tasks.lookup(result.get("task") or tasks.CLASSIFICATION)
    lines: list[tuple[str, bool]] = []
    for prediction in result["predictions"]:
        if "error" in prediction:
            lines.append((f"Error: {prediction['error']}", True))
            continue
        lines.append((f"{prediction['input']}: {task.prediction_text(prediction)}", False))
        if prediction.get("warning"):
            lines.append((f"Warning: {prediction['input']}: {prediction['warning']}", True))
    skipped = [(s["file"], s["reason"]) for s in result.get("skipped", [])]
    if skipped:
        from cnn_cli.inference.input_files import Inputs

        lines.append((Inputs(skipped=skipped).skipped_line(), True))
    return lines
