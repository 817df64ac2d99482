"""`cnn export` refuses bad input in one line (exit 2) with nothing written, names a layer kind that blocks a
format, replaces only with --force, and exits 5 when an export fails its verification."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from cnn_cli.export import runtimes, support
from tests.export_helpers import every_kind_run, export_cli, fashion_run, files, needs_runtimes
from tests.run_helpers import copy_run


@needs_runtimes
def test_failed_verification_exits_5_and_keeps_nothing(monkeypatch, tmp_path):
    from cnn_cli.export import onnx_format

    load = onnx_format.load
    monkeypatch.setattr(onnx_format, "load", lambda path: lambda x: np.roll(load(path)(x), 1, axis=1))
    target = tmp_path / "new" / "fm.onnx"
    result = export_cli([str(fashion_run()), "--format", "onnx", "-o", str(target), "--images", "200"], expect=5)
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("Error: ") and "top-1 agreement" in error and "nothing was written" in error
    assert "FAILED" in result.output and not (tmp_path / "new").exists()


@needs_runtimes
def test_a_blocking_layer_kind_is_named_before_anything_is_written(monkeypatch, tmp_path):
    monkeypatch.setitem(support.EXPORTS_TO, "MinPooling2D", frozenset({"saved_model", "onnx"}))
    out = tmp_path / "new" / "blocks.tflite"
    result = export_cli([str(every_kind_run()), "--format", "litert", "-o", str(out)], expect=2)
    assert result.output.count("\n") == 1 and "cannot export to litert: layer kind MinPooling2D (layer " in result.output
    assert "not exportable to litert); it exports to onnx, saved_model" in result.output
    assert not (tmp_path / "new").exists()
    monkeypatch.delitem(support.EXPORTS_TO, "Add")
    result = export_cli([str(every_kind_run()), "--format", "onnx", "-o", str(out.with_suffix(".onnx"))], expect=2)
    assert ("layer kind Add (layer 'residual_add', 'bottleneck_add', 'inverted_residual_add' and 2 more: not in the "
            "export table). Nothing was written") in result.output
    assert not (tmp_path / "new").exists()


@needs_runtimes
def test_force_replaces_an_existing_saved_model(tmp_path):
    out = tmp_path / "serving" / "1"
    (out / "variables").mkdir(parents=True)
    (out / "old.txt").write_text("old")
    args = [str(fashion_run()), "--format", "saved_model", "-o", str(out), "--images", "100"]
    result = export_cli(args, expect=2)
    assert result.output == f"Error: {out}: exists; add --force to replace it\n" and (out / "old.txt").exists()
    result = export_cli([*args, "--force"], expect=2)  # not a SavedModel: never removed
    assert result.output == (f"Error: {out}: a folder of other files, not a SavedModel; refusing to replace it even "
                             "with --force\n") and (out / "old.txt").exists()
    (out / "saved_model.pb").write_bytes(b"old")
    export_cli([*args, "--force"])
    assert not (out / "old.txt").exists() and (out / "saved_model.pb").read_bytes() != b"old"
    assert sorted(p.name for p in out.parent.iterdir()) == ["1", "1.labels.json"]


def _bad_run(tmp_path, change: dict) -> Path:
    run = copy_run(fashion_run(), tmp_path)
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, **change}))
    return run


BAD = {  # name -> (arguments after RUN_DIR, run.json changes, the message's words)
    "unknown format": (["--format", "coreml"], {}, "'coreml' is not one of 'saved_model', 'onnx', 'litert'"),
    "interrupted run": (["--format", "saved_model"], {"status": "interrupted"},
                        "run.json: status: the run is 'interrupted', not 'complete'"),
    "unknown pixel format": (["--format", "saved_model"], {"format": 3},
                             "run.json: format: expected a format version 1..2, received 3"),
    "quantized SavedModel": (["--format", "saved_model", "--quantize", "float16"], {},
                             "--quantize float16: SavedModel export takes no quantization"),
    "float16 ONNX": (["--format", "onnx", "--quantize", "float16"], {}, "ONNX export takes only dynamic_int8"),
    "SavedModel file name": (["--format", "saved_model", "-o", "{tmp}/m.onnx"], {},
                             "a SavedModel is a folder; give a folder name without .onnx"),
    "wrong file name": (["--format", "onnx", "-o", "{tmp}/m.tflite"], {}, "the file name of this format ends in .onnx"),
    "output exists": (["--format", "litert", "-o", "{tmp}/exists.tflite"], {}, "exists.tflite: exists; add --force"),
    "folder is a file": (["--format", "saved_model", "-o", "{tmp}/exists.tflite/sm"], {},
                         "exists.tflite: cannot write the export there (a file, not a folder)"),
    "unwritable folder": (["--format", "saved_model", "-o", "/proc/cnn-export-test/sm"], {},
                          "/proc/cnn-export-test: cannot write the export there"),
}
AFTER_THE_EXTRA = {"wrong file name", "output exists"}  # checked after the packages of the format


@pytest.mark.parametrize("name", [pytest.param(n, marks=needs_runtimes if n in AFTER_THE_EXTRA else ()) for n in BAD])
def test_bad_input_is_one_line_and_writes_nothing(name, tmp_path):
    args, change, words = BAD[name]
    run = _bad_run(tmp_path / "run", change)
    (tmp_path / "exists.tflite").write_text("keep")
    before = files(tmp_path)
    result = export_cli([str(run), *[a.replace("{tmp}", str(tmp_path)) for a in args]], expect=2)
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    assert words in result.output
    assert files(tmp_path) == before and (tmp_path / "exists.tflite").read_text() == "keep"


def test_unwritable_folder_by_permissions(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = export_cli([str(fashion_run()), "--format", "onnx", "-o", str(locked / "m.onnx")], expect=2)
    assert f"{locked}: cannot write the export there (Permission denied)" in result.output


def test_missing_runtime_names_the_pip_command(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(runtimes.importlib.util, "find_spec",  # onnxruntime missing, the others there
                        lambda name, package=None: None if name == "onnxruntime" else real(name, package) or True)
    result = export_cli([str(tmp_path / "no-run"), "--format", "onnx"], expect=2)
    assert result.output == ("Error: --format onnx: needs the Python package onnxruntime, not installed; install the "
                             "export extra: pip install 'cnn-cli[export]'\n")
