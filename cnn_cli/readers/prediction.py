"""Predicting classes for new inputs with a trained run's model.

Inputs are image files (PNG, JPEG, anything Pillow reads: converted to the model's channels -- grayscale,
RGB or RGBA -- and resized to its height and width, as `data.resize` says), folders (every image under them,
decoded in parallel) or CSV files in the run's layout (a header line, an
optional label column `data.label_column`, which is ignored, and H*W*C pixel columns 0..255). The model takes
the pixels as they are (0..255); the model of a run written before pixel scaling moved into the model
(run.json format 1) gets them divided by 255, as it was trained (`Run.model_inputs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_cli.errors import CnnError, DataError
from cnn_cli.readers.run_reader import read_run

DEFAULT_BATCH = 256


@dataclass
class Item:
    """One example to predict: its name (the file, or `file:row` for a CSV row) and uint8 pixels (H, W, C)."""

    name: str
    pixels: np.ndarray
    file: str
    row: int | None = None


def read_inputs(paths: list[str], input_shape: tuple[int, int, int], label_column: str = "label",
                resize: str = "stretch") -> list[Item]:
    items: list[Item] = []
    for path in paths:
        file = Path(path)
        if not file.exists():
            raise DataError(path, "no such file")
        if file.is_dir():
            items += read_folder_images(path, input_shape, resize)
        elif not file.is_file():
            raise DataError(path, "not a file (expected an image or a CSV file)")
        elif file.suffix.lower() == ".csv":
            items += read_csv_rows(path, input_shape, label_column)
        else:
            items.append(Item(name=path, pixels=read_image(path, input_shape, resize), file=path))
    return items


def read_folder_images(path: str, input_shape: tuple[int, int, int], resize: str = "stretch") -> list[Item]:
    """Every image under a folder, decoded in parallel as training folders are (`cnn_cli.data.folder`)."""
    from cnn_cli.data.folder import decode_files, image_files

    _check_channels(input_shape)
    files = image_files(path)
    images = decode_files(files, input_shape, resize)
    return [Item(name=str(f), pixels=images[i], file=str(f)) for i, f in enumerate(files)]


def _check_channels(input_shape: tuple[int, int, int]) -> None:
    from cnn_cli.data.images import MODES

    if input_shape[2] not in MODES:
        raise CnnError(f"the model takes {input_shape[2]}-channel images; only 1 (grayscale), 3 (RGB) and 4 (RGBA) "
                       "can be made from image files")


def read_image(path: str, input_shape: tuple[int, int, int], resize: str = "stretch") -> np.ndarray:
    """An image file as uint8 (H, W, C) in the model's size and channels."""
    from cnn_cli.data.images import read_image as read

    _check_channels(input_shape)
    return read(path, input_shape, resize)


def read_csv_rows(path: str, input_shape: tuple[int, int, int], label_column: str = "label") -> list[Item]:
    """The rows of a CSV file in the training layout; the label column, if present, is ignored."""
    from cnn_cli.data.csv_source import pixels_uint8, read_frame

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
    """`{"run_dir", "predictions": [{"input", "file", "row", "top": [{"name", "id", "index", "probability"}]}]}`."""
    run = read_run(run_dir)
    model = run.load_model()
    label_column = run.config.data.label_column if run.config.data is not None else "label"
    resize = run.config.data.resize if run.config.data is not None else "stretch"
    items = read_inputs(list(paths), run.input_shape, label_column, resize)
    x = run.model_inputs(np.stack([item.pixels for item in items]))  # scaled for a format-1 run's model only
    scores = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    probabilities = as_probabilities(scores)
    k = max(1, min(int(top_k), run.num_classes))
    entries = run.class_map.entries
    predictions = []
    for item, row in zip(items, probabilities):
        order = np.argsort(-row, kind="stable")[:k]
        predictions.append({
            "input": item.name, "file": item.file, "row": item.row,
            "top": [{"name": entries[i][2], "id": entries[i][1], "index": int(i), "probability": float(row[i])}
                    for i in order],
        })
    return {"run_dir": str(run.path), "predictions": predictions}


def as_probabilities(scores: np.ndarray) -> np.ndarray:
    """The model's outputs when they are probabilities already (a softmax layer), else their softmax."""
    if scores.size and np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3):
        return scores
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def predictions_text(result: dict) -> str:
    lines = []
    for prediction in result["predictions"]:
        tops = ", ".join(f"{t['name']} {t['probability']:.4f}" for t in prediction["top"])
        lines.append(f"{prediction['input']}: {tops}")
    return "\n".join(lines)
