"""Hostile or absurd inputs, each through the real command line: one line `Error: <file>: <key>: ...`, exit 2,
nothing written, never a traceback (the fuzzer in tests/fuzz/ looks for more of them)."""

from __future__ import annotations

import hashlib
import re
import time
import zipfile
from pathlib import Path

import h5py
from click.testing import CliRunner

from cnn_cli.cli import main
from tests.conftest import CONFIGS
from tests.fuzz.runs import FASHION, tiny_config, tiny_run
from tests.run_helpers import copy_run


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
