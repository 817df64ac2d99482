"""The manifest source (`data.source: manifest`): a table of image paths and labels, with images written from
real MNIST digits, trained through `cnn train` for classification and multilabel; the task said by the label
columns; and the bad inputs, each one line naming the manifest and its line, exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from cnn_cli.cli import main
from tests.run_helpers import MNIST_NPZ, ROOT

MODEL = """\
model:
  layers:
    - {type: conv2d, filters: 4, kernel_size: 3}
    - {type: global_avg_pool2d}
    - {type: dense, units: num_classes, activation: auto}
"""


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """40 real MNIST digits as PNGs in images/, and their labels."""
    folder = tmp_path_factory.mktemp("manifest")
    with np.load(MNIST_NPZ) as archive:
        x, y = archive["x_train"][:40], archive["y_train"][:40]
    (folder / "images").mkdir()
    for i, image in enumerate(x):
        Image.fromarray(image).save(folder / "images" / f"{i}.png")
    return folder, [int(v) for v in y]


def _config(folder, manifest: str, extra: str = "", data: str = "") -> str:
    path = folder / f"{manifest}.yaml"
    path.write_text(f"name: m\nseed: 1\n{extra}{MODEL}data: {{source: manifest, path: {folder / manifest}, "
                    f"validation_split: 0.25{data}}}\ntrain: {{epochs: 1, batch_size: 8}}\n")
    return str(path)


def _train(runner, config, tmp_path):
    return runner.invoke(main, ["train", "--config", config, "--run-dir", str(tmp_path / "run")])


def test_classification_manifest_trains_with_a_split_column(runner, digits, tmp_path):
    folder, labels = digits
    lines = ["image,digit,split"] + [f"images/{i}.png,{'odd' if d % 2 else 'even'},{'test' if i >= 32 else 'train'}"
                                     for i, d in enumerate(labels)]
    (folder / "parity.csv").write_text("\n".join(lines) + "\n")
    result = _train(runner, _config(folder, "parity.csv"), tmp_path)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    classes = [c["name"] for c in json.loads((run / "labels.json").read_text())["classes"]]
    assert classes == ["even", "odd"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "classification" and "test_accuracy" in metrics


def test_multilabel_manifest_of_joined_labels_trains_named_by_its_labels(runner, digits, tmp_path):
    folder, labels = digits
    def tags(d):
        return ";".join(t for t, on in (("odd", d % 2), ("big", d >= 5), ("round", d in (0, 6, 8, 9))) if on) or "none"
    rows = [{"path": str(folder / "images" / f"{i}.png") if i == 0 else f"images/{i}.png", "tags": tags(d)}
            for i, d in enumerate(labels)]
    (folder / "tags.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _train(runner, _config(folder, "tags.jsonl", data=", test_split: 0.25"), tmp_path)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    saved = json.loads((run / "labels.json").read_text())
    assert saved["task"] == "multilabel"
    assert [c["name"] for c in saved["classes"]] == sorted({t for r in rows for t in r["tags"].split(";")})
    assert "task: multilabel" in (run / "config.yaml").read_text()


def test_the_task_follows_from_the_columns_or_is_asked_for(runner, digits):
    folder, labels = digits
    (folder / "hot.csv").write_text("file,a,b\n" + "".join(f"images/{i}.png,{d % 2},{int(d > 4)}\n"
                                                          for i, d in enumerate(labels)))
    (folder / "counts.csv").write_text("file,n,m\n" + "".join(f"images/{i}.png,{d},{d + 1}\n"
                                                             for i, d in enumerate(labels)))
    (folder / "size.csv").write_text("file,size\n" + "".join(f"images/{i}.png,{d / 3:.3f}\n"
                                                            for i, d in enumerate(labels)))
    from cnn_cli.config.loader import load_config
    assert load_config(_config(folder, "hot.csv")).task == "multilabel"
    assert load_config(_config(folder, "size.csv")).task == "regression"
    result = runner.invoke(main, ["summary", "--config", _config(folder, "counts.csv")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert ": task: " in result.output and "give task: regression" in result.output
    result = runner.invoke(main, ["summary", "--config", _config(folder, "size.csv", extra="task: classification\n")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "not classification" in result.output


@pytest.mark.parametrize(("manifest", "text", "extra", "fragment"), [
    ("missing.csv", "path,label\nimages/0.png,a\nimages/nope.png,b\n", "", "line 3: no such image file images/nope.png"),
    ("blank.csv", "path,label\nimages/0.png,a\nimages/1.png,\n", "", "line 3, column 'label': empty label cell"),
    ("blank.jsonl", '{"path": "images/0.png", "label": "a"}\n\n{"path": "images/1.png", "label": ""}\n', "",
     "line 3, column 'label': empty label cell"),
    ("text.csv", "path,age\nimages/0.png,3.5\nimages/1.png,old\n", "task: regression\n", "line 3 (1.png): expected numbers"),
    ("texts.csv", "path,x,y\nimages/0.png,3.5,1\nimages/1.png,2,old\n", "task: regression\n",
     "line 3, column 'y': not a number: 'old'"),
])
def test_bad_manifest_rows_are_one_line_naming_the_manifest_and_line(runner, digits, manifest, text, extra, fragment):
    folder, _ = digits
    (folder / manifest).write_text(text)
    result = runner.invoke(main, ["train", "--config", _config(folder, manifest, extra=extra), "--run-dir",
                                  str(folder / "never")])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert errors[0].startswith(f"Error: {folder / manifest}: ") and fragment in errors[0], errors[0]


def test_the_shipped_multilabel_digits_sample_reads_as_its_config_says():
    """data/multilabel_digits (scripts/make_samples.py): 1,200 train canvases (0.15 of them validation) and 300
    test canvases, each with 2 to 4 of the ten digits as its labels."""
    from cnn_cli.config.loader import load_config
    from cnn_cli.data.loading import load_dataset

    config = load_config(ROOT / "configs" / "multilabel_digits.yaml")
    dataset = load_dataset(config)
    assert [name for _, _, name in dataset.class_map.entries] == [str(d) for d in range(10)]
    assert len(dataset.test) == 300 and len(dataset.train) + len(dataset.validation) == 1200
    assert dataset.images.shape[1:] == (56, 56, 1) and dataset.labels.dtype == np.uint8
    assert set(dataset.labels.sum(axis=1)) == {2, 3, 4}


def test_a_manifest_given_with_data_says_the_task_as_in_a_config(runner, digits, tmp_path):
    """`--data MANIFEST` on the command line: the task follows from its columns as it does for a config's
    manifest (written into the run's config.yaml), a config's task they contradict or columns that leave a doubt
    are one line naming --data, exit 2, before anything is read or TensorFlow starts."""
    folder, labels = digits
    (folder / "bits.csv").write_text("file,odd,big\n" + "".join(f"images/{i}.png,{d % 2},{int(d > 4)}\n"
                                                               for i, d in enumerate(labels)))
    (folder / "pairs.csv").write_text("file,n,m\n" + "".join(f"images/{i}.png,{d},{d + 1}\n"
                                                            for i, d in enumerate(labels)))
    config = tmp_path / "model.yaml"
    config.write_text(f"name: m\nseed: 1\n{MODEL}train: {{epochs: 1, batch_size: 8}}\n")
    run = tmp_path / "run"
    result = runner.invoke(main, ["train", "--config", str(config), "--data", str(folder / "bits.csv"),
                                  "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    assert "task: multilabel" in (run / "config.yaml").read_text()
    saved = json.loads((run / "labels.json").read_text())
    assert saved["task"] == "multilabel" and [c["name"] for c in saved["classes"]] == ["odd", "big"]
    for data, extra, fragment in (("pairs.csv", [], "task: required key is missing: the manifest"),
                                  ("bits.csv", ["--set", "task=classification"], "not classification")):
        result = runner.invoke(main, ["train", "--config", str(config), "--data", str(folder / data), *extra,
                                      "--run-dir", str(tmp_path / "never")])
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
        assert result.output.startswith("Error: --data: task: ") and fragment in result.output
        assert not (tmp_path / "never").exists()
