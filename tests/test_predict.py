"""`cnn predict`: images and CSV rows give the classes the model gives their arrays; bad inputs are one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from cnn_cli.cli import main
from tests.run_helpers import MNIST_NPZ, SIGN_VALID, mnist_run, sign_run


def _predict(runner, args, expect=0):
    result = runner.invoke(main, ["predict", *args])
    assert result.exit_code == expect, result.output
    return result


def _model_classes(run, x_uint8):
    import keras

    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    probabilities = model.predict(x_uint8.astype(np.float32), verbose=0)  # the model scales its 0..255 input
    return probabilities.argmax(axis=1), probabilities


def test_predict_png_matches_model(runner, tmp_path):
    run = mnist_run()
    x = np.load(MNIST_NPZ)["x_test"][:6]
    paths = []
    for i, image in enumerate(x):
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(image).save(path)
        paths.append(str(path))
    rgb = tmp_path / "digit0_rgb_big.png"  # RGB and 2x size: converted to gray and resized
    Image.fromarray(np.stack([x[0]] * 3, axis=-1)).resize((56, 56), Image.Resampling.NEAREST).save(rgb)

    report = json.loads(_predict(runner, [str(run), *paths, str(rgb), "--top-k", "3", "--json"]).output)
    expected, probabilities = _model_classes(run, x[..., None])
    predictions = report["predictions"]
    assert [p["input"] for p in predictions] == [*paths, str(rgb)]
    for i, prediction in enumerate(predictions[:6]):
        top = prediction["top"]
        assert len(top) == 3 and {"name", "id", "index", "probability"} <= set(top[0])
        assert top[0]["index"] == expected[i] and top[0]["name"] == str(expected[i])
        assert top[0]["probability"] == pytest.approx(float(probabilities[i].max()), abs=1e-5)
        assert [t["probability"] for t in top] == sorted((t["probability"] for t in top), reverse=True)
    assert predictions[6]["top"][0]["index"] == predictions[0]["top"][0]["index"]

    text = _predict(runner, [str(run), paths[0], "--top-k", "2"]).output.strip().splitlines()
    assert len(text) == 1 and text[0].startswith(f"{paths[0]}: {expected[0]} ")


def test_predict_csv_rows(runner, tmp_path):
    run = sign_run()
    import pandas as pd

    frame = pd.read_csv(SIGN_VALID).head(5)
    unlabelled = tmp_path / "rows.csv"
    frame.drop(columns=["label"]).to_csv(unlabelled, index=False)
    x = frame.drop(columns=["label"]).to_numpy(dtype=np.uint8).reshape(-1, 28, 28, 1)
    expected, _ = _model_classes(run, x)
    names = [c["name"] for c in json.loads((run / "labels.json").read_text())["classes"]]

    for path in (SIGN_VALID, unlabelled):  # the label column is optional and ignored
        report = json.loads(_predict(runner, [str(run), str(path), "--top-k", "1", "--json"]).output)
        predictions = report["predictions"][:5]
        assert [p["input"] for p in predictions] == [f"{path}:{i}" for i in range(1, 6)]
        assert [p["top"][0]["index"] for p in predictions] == expected.tolist()
        assert [p["top"][0]["name"] for p in predictions] == [names[i] for i in expected]
    assert len(report["predictions"]) == 5


def _one_error_line(result, *parts):
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    for part in parts:
        assert part in lines[0], lines[0]


def test_predict_errors(runner, tmp_path):
    run = str(mnist_run())
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    _one_error_line(_predict(runner, [run, str(bad)], expect=2), str(bad), "not a readable image")
    _one_error_line(_predict(runner, [run, str(tmp_path / "none.png")], expect=2), "none.png", "no such file")
    _one_error_line(_predict(runner, [str(tmp_path / "norun"), str(bad)], expect=2), "norun", "no such run directory")

    short = tmp_path / "short.csv"
    short.write_text("label,p1,p2\n3,0,255\n")
    _one_error_line(_predict(runner, [run, str(short)], expect=2), str(short), "2 pixel columns", "784")
    cells = ",".join(["0"] * 783)
    text = tmp_path / "text.csv"
    text.write_text("p0," + ",".join(f"p{i}" for i in range(1, 784)) + f"\n0,{cells}\n7,{cells.replace('0', 'x', 1)}\n")
    _one_error_line(_predict(runner, [run, str(text)], expect=2), str(text), "row 2 (line 3)", "'p1'", "'x'")


def test_predict_missing_model(runner, tmp_path):
    from tests.run_helpers import copy_run

    run = copy_run(mnist_run(), tmp_path)
    (run / "model.keras").unlink()
    png = tmp_path / "d.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(png)
    _one_error_line(_predict(runner, [str(run), str(png)], expect=2), "model.keras", "missing")
