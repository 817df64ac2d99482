"""Small trained runs shared by the evaluate and predict tests: `cnn train` (in-process, via CliRunner) on
the bundled samples, once per test session, into temporary folders removed at exit."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

from cnn_cli.cli import main

ROOT = Path(__file__).resolve().parents[1]
MNIST_NPZ = ROOT / "data" / "mnist_sample.npz"
SIGN_TRAIN = ROOT / "data" / "sign_layout_sample" / "train.csv"
SIGN_VALID = ROOT / "data" / "sign_layout_sample" / "valid.csv"


def finish(proc: subprocess.Popen, timeout: float, what: str = "a process") -> tuple[int, str, str]:
    """The exit code, stdout and stderr ("" when merged into stdout) of `proc`; the test fails, with the end of
    its output, when it runs past `timeout` seconds (it is killed first)."""
    import pytest

    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{what} ran past {timeout}s (hung?):\n{(out + (err or ''))[-3000:]}")
    return proc.returncode, out, err or ""

def _train(name: str, args: list[str]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"cnn-test-{name}-"))
    atexit.register(shutil.rmtree, folder, True)
    run = folder / name
    result = CliRunner().invoke(main, ["train", *args, "--run-dir", str(run)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return run


@functools.cache
def mnist_run() -> Path:
    """MNIST net, 400 examples per split (test 400), 1 epoch, one-hot labels, no validation split."""
    return _train("mnist", ["--config", str(ROOT / "configs" / "mnist.yaml"), "--data", str(MNIST_NPZ),
                            "--subset", "400", "--epochs", "1"])


@functools.cache
def sign_run() -> Path:
    """Sign-language net on the sign-layout CSVs (24 classes, ids 0..24 without 9), no test split."""
    return _train("sign", ["--config", str(ROOT / "configs" / "sign_language.yaml"), "--set", f"data.train={SIGN_TRAIN}",
                           "--set", f"data.validation={SIGN_VALID}", "--subset", "240", "--epochs", "1"])


TINY = """\
name: tiny
seed: 1
model:
  layers:
    - {type: conv2d, name: stem, filters: 8, kernel_size: 3, padding: same}
    - {type: batch_norm, name: stem_bn}
    - {type: activation, activation: relu}
    - {type: max_pool2d, pool_size: 2}
    - {type: conv2d, name: body, filters: 8, kernel_size: 3, padding: same}
    - {type: batch_norm, name: body_bn}
    - {type: global_avg_pool2d}
    - {type: dense, name: head, units: num_classes, activation: softmax}
data:
  source: npz
  path: data/fashion_mnist_sample.npz
  subset: 200
  validation_split: 0.2
train:
  optimizer: {name: adam, learning_rate: 0.003}
  precision: float32
  deterministic: true
"""  # a tiny net (818 params) on the Fashion-MNIST sample (data.path relative to the repository root)
PHASES = TINY + """\
  phases:
    - {epochs: 2, freeze: {until: body_bn}}
    - {epochs: 3, learning_rate: 0.0003}
"""


@functools.cache
def phased_run() -> Path:
    """The tiny net in two phases, 2 epochs frozen up to body_bn then 1 epoch of every layer at rate 0.0003."""
    folder = Path(tempfile.mkdtemp(prefix="cnn-test-phased-"))
    atexit.register(shutil.rmtree, folder, True)
    config = folder / "phased.yaml"
    config.write_text(PHASES.replace("data/fashion_mnist_sample.npz", str(ROOT / "data" / "fashion_mnist_sample.npz"))
                      .replace("{epochs: 3, learning_rate", "{epochs: 1, learning_rate"))
    return _train("phased", ["--config", str(config)])


# `cnn train` of the Fashion-MNIST config on 300 sample images for 3 epochs with TensorFlow's op determinism,
# each run in its own process (op determinism is process-wide): the determinism and crash-safety tests' runs.
DETERMINISTIC = ["--config", "configs/fashion_mnist.yaml", "--data", "data/fashion_mnist_sample.npz", "--subset", "300",
                 "--epochs", "3", "--set", "train.deterministic=true"]


def train_env(**extra: str) -> dict:
    """The environment of a `cnn train` subprocess: no test hook inherited, TensorFlow's log quiet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNN_TEST_")}
    return env | {"TF_CPP_MIN_LOG_LEVEL": "2"} | extra


@functools.cache
def deterministic_run() -> Path:
    """DETERMINISTIC with the config's seed, uninterrupted, in its own process, once per session (the reference
    of the crash-safety tests' resumed runs and of the determinism tests' repeated ones); read-only."""
    folder = Path(tempfile.mkdtemp(prefix="cnn-test-deterministic-"))
    atexit.register(shutil.rmtree, folder, True)
    run = folder / "run"
    result = subprocess.run([sys.executable, "-m", "cnn_cli", "train", *DETERMINISTIC, "--run-dir", str(run)],
                            cwd=ROOT, env=train_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return run


# Python code (for `python -c CODE JSON`) that runs several `cnn` commands, the JSON list of their argument
# lists, one after another in one process (one start-up): each one's exit code, stdout and stderr, as JSON on
# the last line.
RUN_CNN_COMMANDS = r'''
import contextlib
import io
import json
import sys

from cnn_cli.cli import main

done = []
for argv in json.loads(sys.argv[1]):
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv, prog_name="cnn")
        except SystemExit as exit:
            code = exit.code
    done.append([code if isinstance(code, int) else 1, out.getvalue(), err.getvalue()])
print(json.dumps(done))
'''


def copy_run(run: Path, destination: Path) -> Path:
    """A copy of a run directory that a test may break."""
    target = destination / run.name
    shutil.copytree(run, target)
    return target


LABEL_NAMES = ["even", "above_4", "loop"]  # multi-label: the digit is even, greater than 4, has a closed loop


def digit_labels(digits):
    """Three labels of a digit that its image shows: even, greater than 4, written with a loop (0, 6, 8, 9)."""
    import numpy as np

    digits = np.asarray(digits)
    return np.stack([digits % 2 == 0, digits > 4, np.isin(digits, (0, 6, 8, 9))], axis=1).astype(np.uint8)


TASK_CONFIG = """\
name: {name}
seed: 1
task: {task}
model:
  layers:
    - {{type: conv2d, filters: 8, kernel_size: 3, padding: same, activation: relu}}
    - {{type: max_pool2d, pool_size: 2}}
    - {{type: conv2d, filters: 16, kernel_size: 3, padding: same, activation: relu}}
    - {{type: global_avg_pool2d}}
    - {{type: dense, name: head, units: {units}, activation: auto}}
data:
  source: npz
  path: {path}
  class_names: {names}
  validation_split: 0.25
train:
  optimizer: {{name: adam, learning_rate: 0.01}}
  precision: float32
  batch_size: 32
  epochs: 2
{extra}"""


def _task_run(name: str, task: str, labels, names: list[str], extra: str) -> Path:
    """A tiny run of `task` on 400 training and 100 test images of the MNIST sample, labelled by `labels`."""
    import numpy as np

    folder = Path(tempfile.mkdtemp(prefix=f"cnn-test-{name}-"))
    atexit.register(shutil.rmtree, folder, True)
    sample = np.load(MNIST_NPZ)
    np.savez(folder / f"{name}.npz", x_train=sample["x_train"][:400], y_train=labels(sample["y_train"][:400]),
             x_test=sample["x_test"][:100], y_test=labels(sample["y_test"][:100]))
    config = folder / f"{name}.yaml"
    units = "num_targets" if task == "regression" else "num_classes"
    config.write_text(TASK_CONFIG.format(name=name, task=task, units=units, path=folder / f"{name}.npz",
                                         names=names, extra=extra))
    return _train(name, ["--config", str(config)])


@functools.cache
def multilabel_run() -> Path:
    """Multi-label (even, above_4, loop) on MNIST digits: thresholds tuned, balanced positive weights, flip TTA
    and a stop_at target met at once (val_auc at least 0): 1 of the 2 epochs."""
    return _task_run("multilabel", "multilabel", digit_labels, LABEL_NAMES,
                     "  thresholds: tuned\n  class_weight: balanced\n  tta: flip\n  stop_at: {val_auc: 0.0}\n"
                     "  callbacks: {early_stopping: {monitor: val_auc, patience: 5}}\n")


@functools.cache
def regression_run() -> Path:
    """Regression of the digit's value (and twice it, in other units) from its image, 2 epochs."""
    import numpy as np

    def targets(digits):
        return np.stack([digits, 10.0 * digits + 3], axis=1).astype(np.float32)

    return _task_run("regression", "regression", targets, ["digit", "scaled"],
                     "  callbacks: {checkpoint: {monitor: val_mae}}\n")


CLOTHES = """\
name: clothes
seed: 1
model:
  layers:
    - {type: conv2d, filters: 16, kernel_size: 3, padding: same, activation: relu}
    - {type: max_pool2d, pool_size: 2}
    - {type: conv2d, filters: 32, kernel_size: 3, padding: same, activation: relu}
    - {type: global_avg_pool2d}
    - {type: dense, units: num_classes, activation: softmax}
data:
  source: folder
  path: PATH
  image_shape: [32, 32, 3]
  validation_split: 0.2
  test_split: 0.2
train:
  optimizer: {name: adam, learning_rate: 0.01}
  precision: float32
  batch_size: 16
  epochs: 4
"""  # README's colour-folder config, a faster learning rate


@functools.cache
def clothes_folder() -> Path:
    """scripts/image_folders.py's colour folder: sneaker, trouser, tshirt, 20 tinted 32x32 PNGs each."""
    import importlib.util

    folder = Path(tempfile.mkdtemp(prefix="cnn-test-clothes-images-"))
    atexit.register(shutil.rmtree, folder, True)
    spec = importlib.util.spec_from_file_location("image_folders", ROOT / "scripts" / "image_folders.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.clothes(folder / "clothes", per_class=20)
    return folder / "clothes"


@functools.cache
def clothes_run() -> Path:
    """The colour-folder net trained 4 epochs on `clothes_folder` (36 train, 12 validation, 12 test images)."""
    folder = Path(tempfile.mkdtemp(prefix="cnn-test-clothes-"))
    atexit.register(shutil.rmtree, folder, True)
    config = folder / "clothes.yaml"
    config.write_text(CLOTHES.replace("PATH", str(clothes_folder())))
    return _train("clothes", ["--config", str(config)])


FASHION_NPZ = ROOT / "data" / "fashion_mnist_sample.npz"
PHOTO_CLASSES = ("Coat", "Shirt", "Sneaker")  # Fashion-MNIST's 4, 6 and 7


def photo_folder(root: Path, per_class: int = 24, test: bool = False) -> Path:
    """A folder of colour photos as a user has them: one sub-folder per class, PNGs of 36x36 RGB (Fashion-MNIST
    images tinted, enlarged), the same file names in every class (0000.png, ...); with `test`, train/ and test/."""
    import numpy as np
    from PIL import Image

    sample = np.load(FASHION_NPZ)
    x, y = sample["x_train"], sample["y_train"]
    tints = {"Coat": (1.0, 0.6, 0.3), "Shirt": (0.4, 0.8, 1.0), "Sneaker": (0.9, 0.9, 0.5)}
    for split in (("train", "test") if test else ("",)):
        for label, name in zip((4, 6, 7), PHOTO_CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            chosen = np.flatnonzero(y == label)[(per_class if split == "test" else 0):][:per_class]
            for k, i in enumerate(chosen):
                rgb = (x[i][..., None] * np.array(tints[name])).astype(np.uint8)
                Image.fromarray(rgb).resize((36, 36)).save(folder / f"{k:04d}.png")
    return root


@functools.cache
def photo_run() -> Path:
    """The tiny net (TINY) on a folder of 72 colour photos (photo_folder), 1 epoch, with `--data FOLDER` only (and
    mirrored images)."""
    folder = Path(tempfile.mkdtemp(prefix="cnn-test-photos-"))
    atexit.register(shutil.rmtree, folder, True)
    photos = photo_folder(folder / "photos")
    config = folder / "tiny.yaml"
    config.write_text(TINY.replace("  subset: 200\n", ""))
    return _train("photos", ["--config", str(config), "--data", str(photos), "--epochs", "1",
                             "--set", "data.augment.horizontal_flip=true"])
