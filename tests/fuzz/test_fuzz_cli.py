"""The fuzzer: generated configs, flags, `--set` values, damaged run directories and data files, each through
`cnn` in-process; the property is tests/fuzz/harness.py's `check` (exit 0, or exit 2 with one line naming the
file; never a traceback, a hang or a changed saved file). `make test` runs a few derandomized examples of each
(the `ci` profile); `make fuzz` thousands (CNN_FUZZ_EXAMPLES), with the outcomes counted at the end."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz import strategies as S
from tests.fuzz.harness import check
from tests.fuzz.runs import FASHION, tiny_config, tiny_run
from tests.run_helpers import ROOT

OUTPUTS = {"evaluation.json", "confusion_matrix.png", "mistakes.png", "report.html"}  # what evaluate may write


def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="cnn-fuzz-"))


@settings(max_examples=S.examples(25))
@given(text=S.config_texts(), flags=st.lists(st.sampled_from(["--json", "--batch-size=1", "--batch-size=100000"]),
                                             max_size=1, unique=True))
def test_summary_of_mutated_configs(text, flags):
    folder = _scratch()
    try:
        config = folder / "config.yaml"
        config.write_text(text)
        check(["summary", "--config", str(config), *flags])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=S.examples(25))
@given(config=st.sampled_from(S.CHEAP_CONFIGS), data=st.data())
def test_set_values(config, data):
    pairs = data.draw(st.lists(st.tuples(S.config_keys(config), S.yaml_texts), min_size=1, max_size=3))
    args = ["summary", "--config", str(config)]
    for key, value in pairs:
        args += ["--set", f"{key}={value}"]
    check(args)


@settings(max_examples=S.examples(10))
@given(key=S.config_keys(S.CONFIGS[0]), value=S.yaml_texts, flag=st.sampled_from(["--epochs", "--seed", "--subset"]),
       number=st.one_of(st.integers(-5, 2**70).map(str), st.sampled_from(["", "x", "1.5", "9" * 5000])))
def test_train_flags_refused_before_training(key, value, flag, number):
    """Flags and overrides that must be refused before any training (a run that would train is skipped)."""
    folder = _scratch()
    try:
        args = ["train", "--config", str(tiny_config()), "--run-dir", str(folder / "run"), "--set", f"{key}={value}",
                flag, number, "--set", "train.epochs=0"]  # epochs 0 is refused, so nothing here trains
        check(args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=S.examples(6))
@given(data=st.data(), command=st.sampled_from(["evaluate", "predict", "report", "summary", "inspect-none"]))
def test_damaged_run_directory(data, command):
    folder = _scratch()
    try:
        run_dir = shutil.copytree(tiny_run(), folder / "run")
        name, how = data.draw(S.damage(run_dir))
        if command == "evaluate":
            check(["evaluate", str(run_dir), "--subset", "20"], run_dir, writes=OUTPUTS)
        elif command == "predict":
            check(["predict", str(run_dir), str(ROOT / "data" / "sign_layout_sample")], run_dir)
        elif command == "report":
            check(["report", str(run_dir), "-o", str(folder / "report.html")], run_dir)
        else:
            check(["summary", str(run_dir)], run_dir)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=S.examples(2))
@given(data=st.data())
def test_resume_of_a_damaged_run(data):
    """A refused resume changes nothing; one that goes on may rewrite the run."""
    folder = _scratch()
    try:
        run_dir = shutil.copytree(tiny_run(), folder / "run")
        data.draw(S.damage(run_dir))
        check(["train", "--resume", str(run_dir), "--epochs", "1"], run_dir,
              writes={str(p.relative_to(run_dir)) for p in run_dir.rglob("*")} | {"backup"})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=S.examples(12))
@given(data=st.data(), kind=st.sampled_from(["npz", "csv", "idx"]))
def test_data_files(data, kind):
    folder = _scratch()
    try:
        strategy = {"npz": S.npz_files, "csv": S.csv_files, "idx": S.idx_folders}[kind]
        path = data.draw(strategy(folder))
        shape = [] if kind != "csv" else ["--set", "data.image_shape=[8,8,1]"]
        check(["summary", "--config", str(tiny_config()), "--data", str(path), *shape])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=S.examples(4))
@given(data=st.data())
def test_predict_images(data):
    folder = _scratch()
    try:
        image = data.draw(S.image_files(folder))
        check(["predict", str(tiny_run()), str(image)], tiny_run())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_fixtures_exist():
    assert FASHION.is_file() and S.CONFIGS
