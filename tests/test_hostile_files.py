"""Hostile files are refused before anything in them runs: each test plants a payload that would create a
marker file, and checks the one-line error, the exit code and that the marker is absent.

Covered: YAML object tags (a --config file, a run's config.yaml through evaluate, predict, summary and
train --resume), YAML alias bombs, .keras models with a Lambda layer (marshalled code), with objects from
`os`/`builtins`/`keras.config`/`keras.utils`, with an unknown registered custom object or a TFSMLayer, legacy
HDF5 models, .npz files holding pickles, and symlinks that lead out of a run directory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import marshal
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnn_cli.cli import main
from tests.run_helpers import copy_run, mnist_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _one_line(result, code: int, *parts: str) -> str:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def run(tmp_path) -> Path:
    return copy_run(mnist_run(), tmp_path / "copy")


@pytest.fixture
def digit(tmp_path) -> str:
    path = tmp_path / "digit.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(path)
    return str(path)


# ------------------------------------------------------------------ YAML

def _tagged_config(run: Path, marker: Path) -> None:
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n"
                                     + "\n".join(line for line in text.splitlines() if not line.startswith("name:")))


@pytest.mark.parametrize("command", ["evaluate", "predict", "summary", "resume"])
def test_python_tag_in_a_runs_config(runner, run, tmp_path, digit, command):
    marker = tmp_path / "pwned"
    _tagged_config(run, marker)
    before = _digest(run)
    args = {"evaluate": ["evaluate", str(run)], "predict": ["predict", str(run), digit],
            "summary": ["summary", str(run)], "resume": ["train", "--resume", str(run)]}[command]
    _one_line(runner.invoke(main, args), 2, f"{run / 'config.yaml'}: line 1", "Python object tags are not allowed")
    assert not marker.exists()
    assert _digest(run) == before


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system", "!!python/object/new:os.system",
                                 "!!python/name:os.system", "!!python/module:os"])
def test_python_tags_in_a_config(runner, write_config, tmp_path, tag):
    marker = tmp_path / "pwned"
    config = write_config(f"name: {tag} ['touch {marker}']\nmodel: {{layers: [{{type: flatten}}]}}\n")
    _one_line(runner.invoke(main, ["summary", "--config", config]), 2, f"{config}: line 1", "not allowed")
    assert not marker.exists()


def test_yaml_alias_bomb_is_refused(runner, write_config):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    config = write_config("\n".join(lines) + "\n")
    _one_line(runner.invoke(main, ["summary", "--config", config]), 2, config, "aliases")


# ------------------------------------------------------------------ .keras models

def _rewrite_model(path: Path, change) -> None:
    """Rewrites the config.json inside a .keras zip (the other members kept) with `change(config)`."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _layer(config: dict, class_name: str) -> dict:
    return next(layer for layer in config["config"]["layers"] if layer["class_name"] == class_name)


def _lambda_payload(marker: Path) -> dict:
    """A function serialized as Keras serializes a lambda: base64 of its marshalled code object."""
    source = compile(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]", "<payload>", "eval")
    code = next(c for c in source.co_consts if hasattr(c, "co_code"))
    return {"class_name": "__lambda__",
            "config": {"code": base64.b64encode(marshal.dumps(code)).decode("ascii"), "defaults": None, "closure": None}}


def _as_lambda(marker: Path):
    def change(config):
        layer = _layer(config, "Flatten")
        layer.update(module="keras.layers", class_name="Lambda", registered_name=None)
        layer["config"] = {"name": layer["config"]["name"], "trainable": True, "function": _lambda_payload(marker),
                           "arguments": {}}
    return change


def _as_object(module: str, class_name: str, config_value, registered=None):
    def change(config):
        layer = _layer(config, "Flatten")
        layer.update(module=module, class_name=class_name, registered_name=registered, config=config_value)
    return change


def _activation_function(module: str, name: str):
    def change(config):
        _layer(config, "Dense")["config"]["activation"] = {"module": module, "class_name": "function",
                                                           "config": name, "registered_name": name}
    return change


HOSTILE_MODELS = {
    "lambda with marshalled code": (lambda m: _as_lambda(m), "a Lambda layer (Python code)"),
    "os.system as a layer": (lambda m: _as_object("os", "system", f"touch {m}"), "os.system, from a module outside"),
    "builtins.exec as a layer": (lambda m: _as_object("builtins", "exec", f"open({str(m)!r}, 'w')"), "builtins.exec"),
    "subprocess.Popen as a layer": (lambda m: _as_object("subprocess", "Popen", {"args": ["touch", str(m)]}),
                                    "subprocess.Popen"),
    "keras.config gadget": (lambda m: _activation_function("keras.config", "enable_unsafe_deserialization"),
                            "the function keras.config.enable_unsafe_deserialization"),
    "keras.utils.get_file gadget": (lambda m: _activation_function("keras.utils", "get_file"),
                                    "the function keras.utils.get_file"),
    "unknown custom object": (lambda m: _as_object("keras.layers", "Flatten", {"name": "f"}, registered="evil>Payload"),
                              "a custom object 'evil>Payload'"),
    "TFSMLayer": (lambda m: _as_object("keras.layers", "TFSMLayer", {"filepath": str(m)}), "a TFSMLayer"),
    "look-alike module": (lambda m: _as_object("keras.layersevil", "Dense", {}), "keras.layersevil.Dense"),
}


@pytest.mark.parametrize("command", ["evaluate", "predict"])
@pytest.mark.parametrize("case", list(HOSTILE_MODELS))
def test_hostile_model_is_refused(runner, run, tmp_path, digit, case, command):
    marker = tmp_path / "pwned"
    make, fragment = HOSTILE_MODELS[case]
    _rewrite_model(run / "model.keras", make(marker))
    before = _digest(run)
    args = ["evaluate", str(run)] if command == "evaluate" else ["predict", str(run), digit]
    line = _one_line(runner.invoke(main, args), 2, f"Error: {run / 'model.keras'}: refused: ", fragment, "safe mode")
    assert "config.json.config.layers[" in line
    assert not marker.exists()
    assert _digest(run) == before
    from keras.src.saving import serialization_lib

    assert serialization_lib.in_safe_mode() is not False  # nothing switched safe mode off


def test_keras_safe_mode_alone_also_refuses_the_lambda(run, tmp_path):
    """Defence in depth: even without cnn's check, Keras' safe mode refuses the Lambda and runs nothing."""
    import keras

    marker = tmp_path / "pwned"
    _rewrite_model(run / "model.keras", _as_lambda(marker))
    with pytest.raises(ValueError, match="safe_mode"):
        keras.saving.load_model(run / "model.keras", safe_mode=True)
    assert not marker.exists()


def test_legacy_h5_model_is_refused(runner, run, digit):
    import h5py

    with h5py.File(run / "model.keras", "w") as f:  # an HDF5 file under the run's model name
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"layers": []}})
    before = _digest(run)
    for args in (["evaluate", str(run)], ["predict", str(run), digit]):
        _one_line(runner.invoke(main, args), 2, f"{run / 'model.keras'}: a legacy HDF5 (.h5) model",
                  ".save('model.keras')")
    assert _digest(run) == before


# ------------------------------------------------------------------ NumPy

class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_npz_object_array_is_never_unpickled(runner, run, tmp_path):
    marker = tmp_path / "pwned"
    data = tmp_path / "evil.npz"
    np.savez(data, x_train=np.zeros((4, 28, 28), np.uint8), y_train=np.zeros(4, np.uint8),
             x_test=np.array([_Payload(marker)] * 4, dtype=object), y_test=np.zeros(4, np.uint8))
    before = _digest(run)
    _one_line(runner.invoke(main, ["evaluate", str(run), "--data", str(data)]), 2,
              f"Error: {data}: holds Python objects", "'x_test'")
    assert not marker.exists()
    assert _digest(run) == before


def test_pickle_file_named_npz_is_never_unpickled(runner, run, tmp_path):
    marker = tmp_path / "pwned"
    data = tmp_path / "evil.npz"
    data.write_bytes(pickle.dumps(_Payload(marker)))
    _one_line(runner.invoke(main, ["evaluate", str(run), "--data", str(data)]), 2, f"Error: {data}: holds Python objects")
    assert not marker.exists()


# ------------------------------------------------------------------ paths: symlinks out of a run directory

@pytest.mark.parametrize("name", ["config.yaml", "run.json", "labels.json", "model.keras", "evaluation.json",
                                  "confusion_matrix.png"])
def test_symlink_out_of_the_run_directory_is_refused(runner, run, tmp_path, name):
    outside = tmp_path / f"outside-{name}"
    if (run / name).exists():
        (run / name).rename(outside)  # a working file, just in the wrong place
    else:
        outside.write_bytes(b"precious")
    (run / name).symlink_to(outside)
    before, outside_before = _digest(run), outside.read_bytes()
    _one_line(runner.invoke(main, ["evaluate", str(run)]), 2, f"Error: {run / name}: a symlink to {outside}",
              "outside the run directory")
    assert _digest(run) == before and outside.read_bytes() == outside_before


def test_summary_refuses_a_config_symlinked_from_outside(runner, run, tmp_path):
    outside = tmp_path / "elsewhere.yaml"
    (run / "config.yaml").rename(outside)
    (run / "config.yaml").symlink_to(outside)
    _one_line(runner.invoke(main, ["summary", str(run)]), 2, f"{run / 'config.yaml'}: a symlink to {outside}")


def test_symlink_inside_the_run_directory_is_fine(runner, run, digit):
    (run / "model.keras").unlink()
    (run / "model.keras").symlink_to("best.keras")  # relative, inside the run directory
    result = runner.invoke(main, ["predict", str(run), digit, "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["predictions"]) == 1
