"""Hostile or absurd inputs, each through the real command line: one line `Error: <file>: <key>: ...`, exit 2,
nothing written, never a traceback (the fuzzer in tests/fuzz/ looks for more of them)."""

from __future__ import annotations

import hashlib
import io
import re
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
from click.testing import CliRunner
from PIL import Image

from cnn_cli.cli import main
from tests.conftest import CONFIGS
from tests.fuzz.runs import FASHION, tiny_config, tiny_run
from tests.run_helpers import ROOT, copy_run


def run(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.output
    return result


def one_error(result, *parts: str) -> str:
    """The one `Error:` line of an exit-2 result, which holds every one of `parts`."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def hashes(folder: Path) -> dict[str, str]:
    """The SHA-256 of every file under `folder`, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


MNIST = str(CONFIGS / "mnist.yaml")


# --- configs ------------------------------------------------------------------------------------------------

def test_a_yaml_key_that_is_a_list_or_a_mapping(tmp_path):
    for text in ("? [a, b]\n: 1\n", "name: x\n? {a: 1}\n: 2\n"):
        config = tmp_path / "keys.yaml"
        config.write_text(text)
        one_error(run("summary", "--config", str(config)), f"{config}: line", "a key that is a")


def test_an_integer_of_thousands_of_digits(tmp_path):
    config = tmp_path / "digits.yaml"
    config.write_text(re.sub(r"(?m)^seed: .*$", "seed: " + "9" * 5000, (CONFIGS / "mnist.yaml").read_text()))
    one_error(run("summary", "--config", str(config)), str(config), "5,000 digits")
    one_error(run("summary", "--config", MNIST, "--set", "seed=" + "9" * 5000), "--set seed", "5,000 digits")
    one_error(run("compare", "--config", MNIST, "--vary", "seed=1," + "9" * 5000, "--out", str(tmp_path / "out")),
              "--vary seed", "5,000 digits")
    assert not (tmp_path / "out").exists()


def test_a_seed_numpy_cannot_take_is_refused_up_front(tmp_path):
    one_error(run("summary", "--config", MNIST, "--set", f"seed={2**32}"), "--set: seed:", "4294967295")
    one_error(run("train", "--config", MNIST, "--seed", str(2**32), "--run-dir", str(tmp_path / "run")),
              "--seed: seed:", "4294967295")
    one_error(run("summary", "--config", MNIST, "--set", "data.split_seed=-1"), "--set: data.split_seed:")
    assert not (tmp_path / "run").exists()


def test_every_number_in_a_config_is_finite(tmp_path):
    one_error(run("summary", "--config", MNIST, "--set", "train.optimizer.learning_rate=.inf"),
              "--set: train.optimizer.learning_rate: expected a finite number")
    config = tmp_path / "nan.yaml"
    config.write_text((CONFIGS / "mnist.yaml").read_text().replace("train:\n", "train:\n  label_smoothing: .nan\n", 1))
    one_error(run("summary", "--config", str(config)), f"{config}: train.label_smoothing: expected a finite number")


def test_a_config_over_a_megabyte_is_refused_at_once(tmp_path):
    config = tmp_path / "huge.yaml"
    config.write_text((CONFIGS / "mnist.yaml").read_text() + "#" + "x" * (2 * 2**20) + "\n")
    start = time.monotonic()
    one_error(run("summary", "--config", str(config)), str(config), "refused")
    assert time.monotonic() - start < 5


def test_schema_into_a_place_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    one_error(run("schema", "-o", str(blocker / "schema.json")), f"{blocker / 'schema.json'}: --output:")
    one_error(run("schema", "-o", "/dev/full"), "/dev/full: --output:")
    assert blocker.read_text() == ""


def test_a_model_whose_weights_cannot_fit_in_memory_is_refused_before_keras(tmp_path):
    line = one_error(run("summary", "--config", MNIST, "--set", "model.layers[4].filters=1000000000000"),
                     "--set: model.layers[4]:", "more than this machine's memory")
    assert "parameters" in line
    one_error(run("train", "--config", MNIST, "--set", "model.layers[4].filters=1000000000000",
                  "--run-dir", str(tmp_path / "run")), "--set: model.layers[4]:")
    assert not (tmp_path / "run").exists()


# --- model and weights files --------------------------------------------------------------------------------

def _rewrite_keras(source: Path, target: Path, replace: dict[str, bytes] | None = None,
                   declare: dict[str, int] | None = None) -> None:
    """A copy of a .keras archive with members replaced, or declaring other sizes than they have."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, (replace or {}).get(name, src.read(name)))
        for info in dst.filelist:
            info.file_size = (declare or {}).get(info.filename, info.file_size)


def test_a_model_whose_config_json_is_nested_a_hundred_thousand_deep(tmp_path):
    run_dir = copy_run(tiny_run(), tmp_path)
    model = run_dir / "model.keras"
    _rewrite_keras(tiny_run() / "model.keras", model, replace={"config.json": b"[" * 100_000})
    before = hashes(run_dir)
    one_error(run("predict", str(run_dir), str(FASHION)), f"{model}: config.json: nested too deeply")
    assert hashes(run_dir) == before


def test_a_zip_bomb_named_keras_is_refused_from_its_declared_sizes(tmp_path):
    run_dir = copy_run(tiny_run(), tmp_path)
    model = run_dir / "model.keras"
    _rewrite_keras(tiny_run() / "model.keras", model, declare={"model.weights.h5": 2**42})
    start = time.monotonic()
    one_error(run("predict", str(run_dir), str(FASHION)), f"{model}: model.weights.h5: declares", "zip bomb")
    one_error(run("evaluate", str(run_dir)), f"{model}: model.weights.h5: declares")
    assert time.monotonic() - start < 10


def test_weights_declaring_terabytes_are_refused_before_the_run_starts(tmp_path):
    huge = tmp_path / "huge.weights.h5"
    with h5py.File(huge, "w") as f:
        group = f.create_group("layers/stem/vars")
        group.attrs["name"] = "stem"
        group.create_dataset("0", shape=(3, 3, 1, 10**12), dtype="f4")  # declared, never written
    inside = tmp_path / "bomb.keras"
    _rewrite_keras(tiny_run() / "model.keras", inside, declare={"model.weights.h5": 2**42})
    for weights, said in ((huge, "layers/stem/vars/0 declares shape 3x3x1x1000000000000"),
                          (inside, "model.weights.h5: declares")):
        run_dir = tmp_path / f"run-{weights.stem}"
        one_error(run("train", "--config", str(tiny_config()), "--set", f"model.weights={weights}",
                      "--run-dir", str(run_dir)), f"--set: model.weights: {weights}", said)
        assert not run_dir.exists()


# --- data files ---------------------------------------------------------------------------------------------

def _train(tmp_path, data: Path, *more: str):
    run_dir = tmp_path / "run"
    result = run("train", "--config", str(tiny_config()), "--data", str(data), "--epochs", "1",
                 "--run-dir", str(run_dir), *more)
    return result, run_dir


def test_an_npz_member_declaring_a_huge_shape(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (10**9, 10**4, 10**4)})
    labels = io.BytesIO()
    np.save(labels, np.arange(10))
    data = tmp_path / "huge.npz"
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("x_train.npy", header.getvalue())
        archive.writestr("y_train.npy", labels.getvalue())
    result, run_dir = _train(tmp_path, data)
    one_error(result, f"{data}: array 'x_train' declares shape 1000000000x10000x10000")
    assert not run_dir.exists()


def test_random_bytes_are_not_called_a_pickle(tmp_path):
    data = tmp_path / "random.npz"
    data.write_bytes(np.random.default_rng(0).bytes(5000))
    result, _ = _train(tmp_path, data)
    assert "pickle" not in one_error(result, f"{data}: not a readable .npz file (neither a zip archive")


def test_a_label_that_is_no_class_id_is_blamed_on_the_data_file(tmp_path):
    data = tmp_path / "float.npz"
    np.savez(data, x_train=np.zeros((20, 8, 8), np.uint8), y_train=np.arange(20) + 0.5)
    one_error(_train(tmp_path, data)[0], f"{data} [y_train]: index 0: label 0.5 is not an integer class id")
    lines = (ROOT / "data" / "sign_layout_sample" / "train.csv").read_text().splitlines()
    cells = lines[3].split(",")
    lines[3] = ",".join(["3.5", *cells[1:]])
    csv = tmp_path / "labels.csv"
    csv.write_text("\n".join(lines) + "\n")
    one_error(_train(tmp_path, csv, "--set", "data.image_shape=[28,28,1]")[0],
              f"{csv}: row 3 (line 4): label 3.5 is not an integer class id")


def test_a_class_too_small_to_stratify_is_named_with_its_count(tmp_path):
    x = np.zeros((40, 8, 8), np.uint8)
    cases = {
        "negative": (np.where(np.arange(40) == 0, -1, np.arange(40) % 3), "class -1 has only 1 example"),
        "huge-id": (np.where(np.arange(40) == 0, 10**17, np.arange(40) % 3), "class 100000000000000000 has only 1"),
        "thousand": (np.arange(1000), "class 0 has only 1 example (and 999 more classes with one example)"),
    }
    for name, (labels, said) in cases.items():
        data = tmp_path / f"{name}.npz"
        np.savez(data, x_train=np.zeros((len(labels), 8, 8), np.uint8) if name == "thousand" else x, y_train=labels)
        line = one_error(_train(tmp_path, data)[0], "data.stratify:", said)
        assert "least populated" not in line
    data = tmp_path / "big-label.npz"
    np.savez(data, x_train=x[:4], y_train=np.array([1e30, 0, 1, 1e30]))
    one_error(_train(tmp_path, data)[0], f"{data} [y_train]: index 0: label 1e+30 is not an integer class id")


# --- run directories and flags ------------------------------------------------------------------------------

def test_resuming_a_run_killed_before_its_config_says_to_run_it_again(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".lock").write_text("12345\n")
    one_error(run("train", "--resume", str(run_dir)), f"{run_dir}: config.yaml: missing",
              "run the command that started it again, without --resume")
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]


def test_data_flag_gives_the_source_whatever_set_data_says(tmp_path):
    config = tmp_path / "no-data.yaml"
    config.write_text(re.sub(r"(?ms)^data:.*?(?=^train:)", "", tiny_config().read_text()))
    folder = tmp_path / "images"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / name / f"{i}.png")
    result = run("summary", "--config", str(config), "--data", str(folder), "--set", "data.image_shape=[8,8,1]")
    assert result.exit_code == 0, result.output
    assert "data.source" not in result.output
