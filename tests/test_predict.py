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
    from cnn_cli import load_run

    model = load_run(run).model  # in float32, as every reader computes (the run may have trained in mixed precision)
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


def test_predict_folders_skips_what_train_skips_and_goes_on_after_a_bad_image(runner, tmp_path):
    run = str(mnist_run())
    x = np.load(MNIST_NPZ)["x_test"][:3]
    folder = tmp_path / "digits"
    (folder / "more").mkdir(parents=True)
    Image.fromarray(x[0]).save(folder / "a.png")
    Image.fromarray(x[1]).save(folder / "more" / "b.png")
    (folder / "Thumbs.db").write_bytes(b"\x00\x01junk")
    (folder / "README.txt").write_text("my digits\n")
    (folder / "broken.png").write_text("not an image")
    single = tmp_path / "c.png"
    Image.fromarray(x[2]).save(single)

    result = runner.invoke(main, ["predict", run, str(folder), str(single), str(folder / "Thumbs.db")])
    assert result.exit_code == 2, result.output  # one image could not be read
    lines = result.output.strip().splitlines()
    expected, _ = _model_classes(mnist_run(), x[..., None])
    assert lines[0].startswith(f"{folder / 'a.png'}: {expected[0]} ")
    assert lines[1] == f"Error: {folder / 'broken.png'}: not a readable image (Pillow does not recognise the format)"
    assert lines[2].startswith(f"{folder / 'more' / 'b.png'}: {expected[1]} ")
    assert lines[3].startswith(f"{single}: {expected[2]} ")
    assert lines[4] == (f"Skipped 3 file(s), as cnn train does: {folder / 'README.txt'} (not an image: .png, .jpg, "
                        f".jpeg are read), {folder / 'Thumbs.db'} (not an image: .png, .jpg, .jpeg are read), "
                        f"{folder / 'Thumbs.db'} (not an image: .png, .jpg, .jpeg are read)")
    assert len(lines) == 5

    report = json.loads(runner.invoke(main, ["predict", run, str(folder), "--json"]).stdout)
    assert report["failed"] == 1 and [p["input"] for p in report["predictions"]] == [
        str(folder / "a.png"), str(folder / "broken.png"), str(folder / "more" / "b.png")]
    assert {s["file"] for s in report["skipped"]} == {str(folder / "README.txt"), str(folder / "Thumbs.db")}

    fine = runner.invoke(main, ["predict", run, str(folder / "a.png"), str(single)])
    assert fine.exit_code == 0 and len(fine.output.strip().splitlines()) == 2


def test_predict_warns_when_the_background_is_the_opposite(runner, tmp_path):
    run = mnist_run()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["training_images"]["border_mean"] < 5  # MNIST: white digits on black
    digit = np.load(MNIST_NPZ)["x_test"][0]
    Image.fromarray(255 - digit).save(tmp_path / "inverted.png")
    Image.fromarray(digit).save(tmp_path / "plain.png")
    result = runner.invoke(main, ["predict", str(run), str(tmp_path / "inverted.png"), str(tmp_path / "plain.png")])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    inverted = (255 - digit).astype(float)
    ring = np.concatenate([inverted[:2].ravel(), inverted[-2:].ravel(), inverted[2:-2, :2].ravel(),
                           inverted[2:-2, -2:].ravel()])
    assert ring.mean() > 175
    assert lines[1] == (f"Warning: {tmp_path / 'inverted.png'}: its background is light (border mean "
                        f"{ring.mean():.0f} of 255), "
                        f"the training images' is dark ({metrics['training_images']['border_mean']:.0f}): "
                        "the model may need the image inverted")
    assert len(lines) == 3 and not any("Warning" in line and "plain.png" in line for line in lines)
