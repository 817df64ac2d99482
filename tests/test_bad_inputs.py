"""A catalogue of bad inputs to the commands that read a run directory (evaluate, predict, summary RUN_DIR,
train --resume): damaged or foreign run directories, bad flags, bad data and input files.

Every case goes through the real CLI (CliRunner) on a copy of one trained run, and checks: one line
`Error: ...` naming the file and the key or row, the exit code (2 bad input, 3 a diverged run; never 1), no
traceback, and that the run directory is byte for byte as it was (every file hashed before and after).
Configs have their own catalogue in test_config_errors.py and data files in test_data_errors.py.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from cnn_cli.cli import main
from tests.run_helpers import MNIST_NPZ, copy_run, mnist_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@dataclass
class Case:
    """`make(run, tmp)` damages the run copy and/or writes inputs under tmp, and returns the CLI arguments;
    the fragments (formatted with run= and tmp=) must all appear in the one error line."""

    make: Callable[[Path, Path], list[str]]
    fragments: tuple[str, ...]
    code: int = 2


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


# ------------------------------------------------------------------ helpers that damage a run or make inputs

def edit_yaml(name: str, change):
    def apply(run: Path) -> None:
        data = yaml.safe_load((run / name).read_text())
        change(data)
        (run / name).write_text(yaml.safe_dump(data, sort_keys=False))
    return apply


def edit_json(name: str, change):
    def apply(run: Path) -> None:
        data = json.loads((run / name).read_text())
        data = change(data) or data
        (run / name).write_text(json.dumps(data))
    return apply


def write(name: str, content: bytes | str):
    def apply(run: Path) -> None:
        target = run / name
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    return apply


def remove(name: str):
    return lambda run: (run / name).unlink()


def evaluate(*damage, extra: tuple[str, ...] = ()):
    def make(run: Path, tmp: Path) -> list[str]:
        for step in damage:
            step(run)
        return ["evaluate", str(run), *extra]
    return make


def predict_png(*damage):
    def make(run: Path, tmp: Path) -> list[str]:
        for step in damage:
            step(run)
        return ["predict", str(run), png(tmp)]
    return make


def png(tmp: Path, size=(28, 28)) -> str:
    path = tmp / "digit.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, size[::-1], dtype=np.uint8)).save(path)
    return str(path)


def predict_file(name: str, content: bytes | str | None, *flags: str):
    def make(run: Path, tmp: Path) -> list[str]:
        path = tmp / name
        if content is not None:
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return ["predict", str(run), str(path), *flags]
    return make


def with_data(**arrays):
    """evaluate --data FILE.npz holding `arrays` (defaults: a small valid MNIST-like test split)."""
    def make(run: Path, tmp: Path) -> list[str]:
        base = {"x_train": np.zeros((20, 28, 28), np.uint8), "y_train": np.arange(20) % 10,
                "x_test": np.zeros((10, 28, 28), np.uint8), "y_test": np.arange(10)}
        base.update(arrays)
        path = tmp / "data.npz"
        np.savez(path, **{k: v for k, v in base.items() if v is not None})
        return ["evaluate", str(run), "--data", str(path)]
    return make


def truncated_model(run: Path) -> None:
    data = (run / "model.keras").read_bytes()
    (run / "model.keras").write_bytes(data[: len(data) // 2])


def rezip(drop: str | None = None, config: bytes | None = None):
    def apply(run: Path) -> None:
        with zipfile.ZipFile(run / "model.keras") as archive:
            members = {name: archive.read(name) for name in archive.namelist() if name != drop}
        if config is not None:
            members["config.json"] = config
        with zipfile.ZipFile(run / "model.keras", "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    return apply


def resume(*damage, extra: tuple[str, ...] = (), status: str = "interrupted"):
    """train --resume on the run made to look interrupted (so only the check under test stops it)."""
    def make(run: Path, tmp: Path) -> list[str]:
        edit_json("run.json", lambda r: r.update(status=status))(run)
        for step in damage:
            step(run)
        return ["train", "--resume", str(run), *extra]
    return make


def bomb_png(tmp: Path) -> Path:
    """A PNG header that declares 20000 x 20000 pixels (Pillow's decompression-bomb limit is 179M)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    path = tmp / "bomb.png"
    path.write_bytes(data)
    return path


def labels_without_last(run: Path) -> None:
    def drop(d):
        d.update(classes=d["classes"][:-1])
        if d.get("train_counts"):  # one count per class
            d.update(train_counts=d["train_counts"][:-1])

    edit_json("labels.json", drop)(run)


def no_num_classes(run: Path) -> None:
    edit_yaml("config.yaml", lambda c: c["model"].update(num_classes=None))(run)


PIXELS = ",".join(f"pixel{i}" for i in range(1, 785))
ZEROS = ",".join(["0"] * 784)

CASES: dict[str, Case] = {
    # ---- run directories: missing, foreign or from another version
    "run dir missing": Case(lambda run, tmp: ["evaluate", str(tmp / "nope")], ("{tmp}/nope: no such run directory",)),
    "run dir is a file": Case(lambda run, tmp: ["evaluate", str(run / "run.json")], ("run.json: not a directory",)),
    "empty folder": Case(lambda run, tmp: (tmp / "empty").mkdir() or ["evaluate", str(tmp / "empty")],
                         ("{tmp}/empty: not a run directory (config.yaml is missing)",)),
    "config.yaml: key from a newer version": Case(
        evaluate(edit_yaml("config.yaml", lambda c: c.update(provenance={"git": "abc"}))),
        ("{run}/config.yaml: provenance: unknown key",)),
    "config.yaml: layer type from a newer version": Case(
        evaluate(edit_yaml("config.yaml", lambda c: c["model"]["layers"][0].update(type="conv3d"))),
        ("{run}/config.yaml: model.layers[0].type", "'conv3d'")),
    "config.yaml: broken YAML": Case(evaluate(write("config.yaml", "name: [mnist\n")),
                                     ("{run}/config.yaml: invalid YAML",)),
    "config.yaml: empty": Case(evaluate(write("config.yaml", "")), ("{run}/config.yaml: ", "expected a mapping")),
    "config.yaml: not UTF-8": Case(evaluate(write("config.yaml", b"name: \xff\xfe\n")),
                                   ("{run}/config.yaml: cannot be read",)),
    "config.yaml: no input_shape": Case(
        evaluate(edit_yaml("config.yaml", lambda c: c["model"].pop("input_shape"))),
        ("{run}/config.yaml: model.input_shape is missing",)),
    "config.yaml: a folder": Case(evaluate(remove("config.yaml"), lambda run: (run / "config.yaml").mkdir()),
                                  ("not a run directory (config.yaml is missing)",)),
    "run.json: missing": Case(evaluate(remove("run.json")), ("{run}/run.json: missing from the run directory",)),
    "run.json: malformed": Case(evaluate(write("run.json", '{"status": "complete",')),
                                ("{run}/run.json: cannot be read as JSON",)),
    "run.json: a list": Case(evaluate(write("run.json", "[1, 2]")), ("{run}/run.json: expected a JSON object",)),
    "run.json: subset NaN": Case(evaluate(write("run.json", '{"status": "complete", "subset": NaN}')),
                                 ("{run}/run.json: subset: expected a positive integer", "received nan")),
    "run.json: data_path a number": Case(evaluate(edit_json("run.json", lambda r: r.update(data_path=5))),
                                         ("{run}/run.json: data_path: expected a path", "received 5")),
    "run.json: subset negative": Case(evaluate(edit_json("run.json", lambda r: r.update(subset=-3))),
                                      ("{run}/run.json: subset: expected a positive integer", "received -3")),
    "run.json: subset a string": Case(evaluate(edit_json("run.json", lambda r: r.update(subset="all"))),
                                      ("{run}/run.json: subset", "received 'all'")),
    "run.json: status not a string": Case(evaluate(edit_json("run.json", lambda r: r.update(status=["done"]))),
                                          ("{run}/run.json: status: expected a string",)),
    "run.json: data_path gone": Case(evaluate(edit_json("run.json", lambda r: r.update(data_path="gone/x.npz"))),
                                     ("{run}/run.json: data_path: 'gone/x.npz'", "give --data PATH")),
    "run.json: status diverged": Case(evaluate(edit_json("run.json", lambda r: r.update(status="diverged"))),
                                      ("{run}/run.json: the run diverged",), code=3),
    "run.json: diverged, predict": Case(predict_png(edit_json("run.json", lambda r: r.update(status="diverged"))),
                                        ("{run}/run.json: the run diverged",), code=3),
    "labels.json: missing": Case(evaluate(remove("labels.json")), ("{run}/labels.json: missing",)),
    "labels.json: truncated": Case(evaluate(lambda run: (run / "labels.json").write_text(
        (run / "labels.json").read_text()[:40])), ("{run}/labels.json: cannot be read as JSON",)),
    "labels.json: binary": Case(evaluate(write("labels.json", b"\x00\xff\xfe")), ("{run}/labels.json: cannot be read",)),
    "labels.json: no classes": Case(evaluate(write("labels.json", '{"labels": []}')), ("{run}/labels.json: classes",)),
    "labels.json: class not an object": Case(evaluate(edit_json("labels.json", lambda d: d["classes"].__setitem__(2, 7))),
                                             ("{run}/labels.json: classes[2]", "received 7")),
    "labels.json: index out of order": Case(
        evaluate(edit_json("labels.json", lambda d: d["classes"][1].update(index=5))),
        ("{run}/labels.json: classes[1].index: expected 1", "received 5")),
    "labels.json: duplicate id": Case(evaluate(edit_json("labels.json", lambda d: d["classes"][3].update(id=2))),
                                      ("{run}/labels.json: classes[3].id", "classes[2]")),
    "labels.json: id a list": Case(evaluate(edit_json("labels.json", lambda d: d["classes"][0].update(id=[0]))),
                                   ("{run}/labels.json: classes[0].id: expected an integer or a string",)),
    "labels.json: one class": Case(evaluate(edit_json("labels.json", lambda d: d.update(classes=d["classes"][:1]))),
                                   ("{run}/labels.json: classes: expected at least 2 classes",)),
    "labels.json: 9 classes, config 10": Case(evaluate(labels_without_last),
                                              ("{run}/labels.json: 9 classes", "model.num_classes 10")),
    "model.keras: missing": Case(evaluate(remove("model.keras")), ("{run}/model.keras: missing from the run directory",)),
    "model.keras: missing, interrupted run": Case(
        evaluate(remove("model.keras"), edit_json("run.json", lambda r: r.update(status="interrupted"))),
        ("{run}/model.keras: missing", "status is 'interrupted'")),
    "model.keras: zero bytes": Case(evaluate(write("model.keras", b"")), ("{run}/model.keras: cannot be loaded as a Keras model: empty file (0 bytes)",)),
    "model.keras: truncated": Case(evaluate(truncated_model), ("{run}/model.keras: cannot be loaded", "not a zip archive, or a truncated one")),
    "model.keras: not a zip": Case(predict_png(write("model.keras", b"GIF89a....")),
                                   ("{run}/model.keras: cannot be loaded as a Keras model: not a .keras file",)),
    "model.keras: no config.json": Case(evaluate(rezip(drop="config.json")), ("{run}/model.keras", "no config.json")),
    "model.keras: config.json not JSON": Case(evaluate(rezip(config=b"{'layers':")),
                                              ("{run}/model.keras: cannot be loaded as a Keras model: its config.json is not valid JSON",)),
    "model.keras: no weights": Case(evaluate(rezip(drop="model.weights.h5")),
                                    ("{run}/model.keras: cannot be loaded as a Keras model",)),
    "model.keras: a folder": Case(evaluate(remove("model.keras"), lambda run: (run / "model.keras").mkdir()),
                                  ("{run}/model.keras: not a file",)),
    "model.keras: 10 outputs, labels.json 9": Case(
        evaluate(labels_without_last, no_num_classes),
        ("{run}/model.keras: output shape (None, 10)", "9 classes in labels.json")),
    "model.keras: input differs from config.yaml": Case(
        predict_png(edit_yaml("config.yaml", lambda c: c["model"].update(input_shape=[32, 32, 1]))),
        ("{run}/model.keras: input shape [28, 28, 1] differs", "model.input_shape [32, 32, 1]")),
    "config.yaml: train.loss edited after training": Case(
        evaluate(edit_yaml("config.yaml", lambda c: c["train"].update(loss="sparse_categorical_crossentropy"))),
        ("{run}/config.yaml: train.loss: the model in model.keras was compiled with 'categorical_crossentropy'",)),
    "config.yaml: a symlink loop": Case(evaluate(remove("config.yaml"), lambda run: (run / "config.yaml").symlink_to(
        "config.yaml")), ("{run}/config.yaml: a symlink loop",)),
    "evaluation.json is a folder": Case(evaluate(lambda run: (run / "evaluation.json").unlink(missing_ok=True),
                                                 lambda run: (run / "evaluation.json").mkdir()),
                                        ("{run}/evaluation.json: exists and is not a file",)),
    "summary RUN_DIR: key from a newer version": Case(
        lambda run, tmp: edit_yaml("config.yaml", lambda c: c["train"].update(ema=0.99))(run) or ["summary", str(run)],
        ("{run}/config.yaml: train.ema: unknown key",)),
    "summary RUN_DIR: --set a bad value": Case(lambda run, tmp: ["summary", str(run), "--set", "model.layers=3"],
                                               ("--set: model.layers: expected a list",)),
    # ---- run.json, metrics.json, labels.json and history.csv: each damaged field, through the schemas
    "run.json: status unknown": Case(evaluate(edit_json("run.json", lambda r: r.update(status="all"))),
                                     ("{run}/run.json: status: expected a string: one of running", "received 'all'")),
    "run.json: format from a newer version": Case(evaluate(edit_json("run.json", lambda r: r.update(format=3))),
                                                  ("{run}/run.json: format: expected a format version 1..2",
                                                   "received 3")),
    "run.json: format a string": Case(evaluate(edit_json("run.json", lambda r: r.update(format="2"))),
                                      ("{run}/run.json: format: expected a format version", "received '2'")),
    "run.json: seed a string": Case(evaluate(edit_json("run.json", lambda r: r.update(seed="42"))),
                                    ("{run}/run.json: seed: expected an integer", "received '42'")),
    "run.json: overrides not a list": Case(evaluate(edit_json("run.json", lambda r: r.update(overrides="x=1"))),
                                           ("{run}/run.json: overrides: expected a list of strings",)),
    "run.json: resumed holds a number": Case(evaluate(edit_json("run.json", lambda r: r.update(resumed=[5]))),
                                             ("{run}/run.json: resumed[0]: expected a time (a string)", "received 5")),
    "metrics.json: accuracy not a number": Case(
        evaluate(edit_json("metrics.json", lambda m: m.update(test_accuracy="high"))),
        ("{run}/metrics.json: test_accuracy: expected a number", "received 'high'")),
    "metrics.json: negative epochs": Case(evaluate(edit_json("metrics.json", lambda m: m.update(epochs_run=-1))),
                                          ("{run}/metrics.json: epochs_run:", "received -1")),
    "metrics.json: a list": Case(evaluate(write("metrics.json", "[]")), ("{run}/metrics.json: expected a JSON object",)),
    "metrics.json: malformed": Case(evaluate(write("metrics.json", '{"test_accuracy": ')),
                                    ("{run}/metrics.json: cannot be read as JSON",)),
    "labels.json: a class without a name": Case(
        evaluate(edit_json("labels.json", lambda d: d["classes"][4].__delitem__("name"))),
        ("{run}/labels.json: classes[4].name: missing",)),
    "labels.json: name a list": Case(evaluate(edit_json("labels.json", lambda d: d["classes"][0].update(name=["a"]))),
                                     ("{run}/labels.json: classes[0].name: expected a string", "received ['a']")),
    "labels.json: index negative": Case(evaluate(edit_json("labels.json", lambda d: d["classes"][0].update(index=-1))),
                                        ("{run}/labels.json: classes[0].index: expected a non-negative integer",)),
    "history.csv: loss not a number": Case(evaluate(write("history.csv", "epoch,loss,accuracy\n1,abc,0.5\n")),
                                           ("{run}/history.csv: row 2: loss: expected a number", "received 'abc'")),
    "history.csv: epoch 0": Case(evaluate(write("history.csv", "epoch,loss\n1,0.5\n0,0.4\n")),
                                 ("{run}/history.csv: row 3: epoch: expected an integer from 1 on", "received '0'")),
    "history.csv: no epoch column": Case(evaluate(write("history.csv", "loss,accuracy\n0.5,0.9\n")),
                                         ("{run}/history.csv: row 2: epoch: missing",)),
    "history.csv: a row with an extra cell": Case(evaluate(write("history.csv", "epoch,loss\n1,0.5,7\n")),
                                                  ("{run}/history.csv: row 2:", "different number of cells")),
    "resume: run.json subset 'all'": Case(resume(edit_json("run.json", lambda r: r.update(subset="all"))),
                                          ("{run}/run.json: subset: expected a positive integer or null",
                                           "received 'all'")),
    "resume: run.json data_path 12": Case(resume(edit_json("run.json", lambda r: r.update(data_path=12))),
                                          ("{run}/run.json: data_path: expected a path", "received 12")),
    "resume: run.json status unknown": Case(resume(edit_json("run.json", lambda r: r.update(status="paused"))),
                                            ("{run}/run.json: status:", "received 'paused'")),
    "resume: history.csv cell not a number": Case(
        resume(write("history.csv", "epoch,loss,accuracy\n1,0.5,x\n")),
        ("{run}/history.csv: row 2: accuracy: expected a number", "received 'x'")),
    "resume: labels.json class without an id": Case(
        resume(edit_json("labels.json", lambda d: d["classes"][1].__delitem__("id"))),
        ("{run}/labels.json: classes[1].id: missing",)),
    "resume: metrics.json best_epoch a string": Case(
        resume(edit_json("metrics.json", lambda m: m.update(best_epoch="one"))),
        ("{run}/metrics.json: best_epoch: expected an integer", "received 'one'")),
    # ---- train --resume (checks in the training code: nothing may be written before they pass)
    "resume: config changed by --set": Case(resume(extra=("--set", "train.batch_size=16")),
                                            ("cannot resume {run}", "differs", "train.batch_size")),
    "resume: config file changed": Case(
        lambda run, tmp: resume(extra=("--config", str(_changed_config(tmp))))(run, tmp),
        ("cannot resume {run}", "differs from the run's config.yaml", "train.optimizer")),
    "resume: other data": Case(resume(extra=("--data", "data/fashion_mnist_sample.npz")),
                               ("cannot resume {run}: --data data/fashion_mnist_sample.npz differs",)),
    "resume: run complete": Case(resume(status="complete"), ("cannot resume {run}: the run is already complete",)),
    "resume: config.yaml from a newer version": Case(
        resume(edit_yaml("config.yaml", lambda c: c.update(provenance="x"))), ("{run}/config.yaml: provenance",)),
    "resume: run.json missing": Case(resume(remove("run.json")), ("run.json",)),
    # ---- flags
    "evaluate --batch-size 0": Case(lambda run, tmp: ["evaluate", str(run), "--batch-size", "0"],
                                    ("cnn evaluate: ", "'--batch-size'", "0 is not in the range")),
    "evaluate --subset abc": Case(lambda run, tmp: ["evaluate", str(run), "--subset", "abc"],
                                  ("cnn evaluate: ", "'--subset'", "'abc' is not a valid integer")),
    "evaluate unknown flag": Case(lambda run, tmp: ["evaluate", str(run), "--epochs", "3"],
                                  ("cnn evaluate: ", "No such option", "--epochs")),
    "evaluate without RUN_DIR": Case(lambda run, tmp: ["evaluate"], ("cnn evaluate: ", "Missing argument 'RUN_DIR'")),
    "predict --top-k 0": Case(lambda run, tmp: ["predict", str(run), png(tmp), "--top-k", "0"],
                              ("cnn predict: ", "'--top-k'")),
    "predict without inputs": Case(lambda run, tmp: ["predict", str(run)], ("cnn predict: ", "Missing argument 'INPUTS...'")),
    "summary RUN_DIR and --config": Case(lambda run, tmp: ["summary", str(run), "--config", "configs/mnist.yaml"],
                                         ("either a run directory or --config FILE",)),
    "summary --batch-size -1": Case(lambda run, tmp: ["summary", str(run), "--batch-size", "-1"],
                                    ("cnn summary: ", "'--batch-size'")),
    # ---- evaluate --data
    "--data missing": Case(lambda run, tmp: ["evaluate", str(run), "--data", str(tmp / "no.npz")],
                           ("{tmp}/no.npz: no such file or folder",)),
    "--data unknown kind": Case(lambda run, tmp: (tmp / "d.txt").write_text("1") and ["evaluate", str(run), "--data",
                                                                                      str(tmp / "d.txt")],
                                ("{tmp}/d.txt: unknown kind of data",)),
    "--data images of another size": Case(with_data(x_train=np.zeros((20, 8, 8), np.uint8),
                                                    x_test=np.zeros((10, 8, 8), np.uint8)),
                                          ("{tmp}/data.npz", "images are 8x8x1, the model takes 28x28x1")),
    "--data label the run lacks": Case(with_data(y_train=np.arange(20) % 12, y_test=np.arange(10) + 2),
                                       ("{tmp}/data.npz", "label 10 is not one of the 10 classes")),
    "--data float pixels": Case(with_data(x_test=np.full((10, 28, 28), 0.5, np.float32)),
                                ("{tmp}/data.npz", "array 'x_test': expected integer pixel values 0..255")),
    "--data object array": Case(with_data(y_test=np.array(["a", {}] * 5, dtype=object)),
                                ("{tmp}/data.npz: holds Python objects", "'y_test'")),
    "--data no x_train": Case(with_data(x_train=None), ("{tmp}/data.npz: no array 'x_train'",)),
    "--data a corrupt npz": Case(lambda run, tmp: (tmp / "c.npz").write_bytes(MNIST_NPZ.read_bytes()[:5000]) and [
        "evaluate", str(run), "--data", str(tmp / "c.npz")], ("{tmp}/c.npz: not a readable .npz file",)),
    "--data csv of the wrong width": Case(
        lambda run, tmp: (tmp / "d.csv").write_text("label,a,b\n1,2,3\n") and ["evaluate", str(run), "--data",
                                                                             str(tmp / "d.csv")],
        ("{tmp}/d.csv: 2 pixel columns",)),
    "--data idx gzip truncated": Case(lambda run, tmp: _idx_folder(tmp) and ["evaluate", str(run), "--data",
                                                                          str(tmp / "idx")],
                                      ("{tmp}/idx/t10k-images-idx3-ubyte.gz: truncated",)),
    # ---- predict inputs
    "predict: text as an image": Case(predict_file("a.png", "not an image"), ("{tmp}/a.png: not a readable image",)),
    "predict: truncated PNG": Case(lambda run, tmp: (tmp / "t.png").write_bytes(Path(png(tmp)).read_bytes()[:300]) and [
        "predict", str(run), str(tmp / "t.png")], ("{tmp}/t.png: not a readable image",)),
    "predict: decompression bomb": Case(lambda run, tmp: ["predict", str(run), str(bomb_png(tmp))],
                                        ("{tmp}/bomb.png: refused: too many pixels",)),
    "predict: missing file": Case(predict_file("none.png", None), ("{tmp}/none.png: no such file",)),
    "predict: an empty folder": Case(lambda run, tmp: ["predict", str(run), str(tmp)],
                                     ("{tmp}: nothing to predict: no image (.png, .jpg, .jpeg) or CSV files",)),
    "predict: empty CSV": Case(predict_file("e.csv", ""), ("{tmp}/e.csv: empty file",)),
    "predict: CSV header only": Case(predict_file("h.csv", f"label,{PIXELS}\n"), ("{tmp}/h.csv: no data rows",)),
    "predict: CSV pixel 300": Case(predict_file("p.csv", f"{PIXELS}\n{ZEROS}\n300{ZEROS[1:]}\n"),
                                   ("{tmp}/p.csv: row 2 (line 3), column 'pixel1'", "pixel value 300")),
    "predict: CSV too few columns": Case(predict_file("w.csv", "label,p1\n1,2\n"), ("{tmp}/w.csv: 1 pixel columns",)),
    "predict: CSV binary": Case(predict_file("b.csv", b"\xff\xfe\x00\x01,\x80\n\x81"), ("{tmp}/b.csv: ",)),
}


def _changed_config(tmp: Path) -> Path:
    from tests.conftest import load_config_dict

    config = load_config_dict("mnist")
    config["train"]["optimizer"] = "sgd"
    path = tmp / "changed.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _idx_folder(tmp: Path) -> Path:
    folder = tmp / "idx"
    folder.mkdir()
    for prefix, n in (("train", 20), ("t10k", 10)):
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">IIII", 0x803, n, 28, 28) + bytes(n * 784))
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))
    images = folder / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:-12])
    return folder


@pytest.fixture(scope="module")
def trained() -> Path:
    return mnist_run()


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(runner, trained, tmp_path, name):
    case = CASES[name]
    run = copy_run(trained, tmp_path / "copy")
    tmp = tmp_path / "inputs"
    tmp.mkdir()
    args = case.make(run, tmp)
    before = _digest(run)
    result = runner.invoke(main, args)
    assert result.exit_code == case.code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in case.fragments:
        assert fragment.format(run=run, tmp=tmp) in lines[0], lines[0]
    assert _digest(run) == before, "the run directory changed"


def test_catalogue_size():
    assert len(CASES) >= 40


def test_files_evaluate_does_not_need_may_be_missing(runner, trained, tmp_path):
    """metrics.json, history.csv, summary.txt and the plots are for people: evaluate and predict work
    without them (a run copied without them, or from a version that wrote others)."""
    run = copy_run(trained, tmp_path / "copy")
    for name in ("metrics.json", "history.csv", "summary.txt", "training_curves.png", "best.keras",
                 "evaluation.json"):  # (another test module may have evaluated the shared run)
        (run / name).unlink(missing_ok=True)
    (run / "notes-from-a-newer-version.json").write_text("{}")
    result = runner.invoke(main, ["evaluate", str(run), "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["num_examples"] == 400
    assert not (run / "evaluation.json").exists()
