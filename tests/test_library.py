"""The Python face: `cnn_cli.load_run(path)` on real trained runs -- model (float32), class names, `predict`
and `classify` on uint8 arrays and image files; `import cnn_cli` imports neither Keras nor TensorFlow; a
model with the tool's own layers loads in a fresh process without importing them first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cnn_cli
from cnn_cli.errors import CnnError
from tests.run_helpers import MNIST_NPZ, ROOT, _train, mnist_run


def test_import_cnn_cli_imports_no_keras_nor_tensorflow():
    code = ("import sys, cnn_cli; assert callable(cnn_cli.load_run); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_load_run_predicts_arrays_and_files_alike(tmp_path):
    run = cnn_cli.load_run(mnist_run())
    assert run.class_names == [str(i) for i in range(10)] and run.input_shape == (28, 28, 1)
    assert {layer.dtype_policy.name for layer in run.model.layers} == {"float32"}

    data = np.load(MNIST_NPZ)
    x, y = data["x_test"][:200], data["y_test"][:200]
    probabilities = run.predict(x)  # (N, H, W) uint8, as MNIST's arrays are
    assert probabilities.shape == (200, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == y))
    # 1 epoch on 400 images (chance: 0.1). The caller gives raw pixels: scaled once more by the caller, the
    # model's own scaling makes them near zero and its answers no better than chance.
    scaled_twice = run.model.predict(x[..., None].astype(np.float32) / 255.0, verbose=0)
    assert accuracy > 0.2 and accuracy > float(np.mean(np.argmax(scaled_twice, axis=1) == y)) + 0.05, accuracy

    files = []
    for i in range(3):
        Image.fromarray(x[i]).save(tmp_path / f"digit{i}.png")
        files.append(tmp_path / f"digit{i}.png")
    np.testing.assert_allclose(run.predict([str(f) for f in files]), probabilities[:3], atol=1e-6)
    np.testing.assert_allclose(run.predict(x[0]), probabilities[:1], atol=1e-6)  # one (H, W) image
    assert run.classify(files) == [run.class_names[i] for i in np.argmax(probabilities[:3], axis=1)]

    saved = run._run.load_model()  # the file as saved: the training precision's policy
    agree = np.mean(np.argmax(saved.predict(x.astype("float32")[..., None], verbose=0), axis=1)
                    == np.argmax(probabilities, axis=1))
    assert agree > 0.95

    with pytest.raises(CnnError, match=r"images of shape \(5, 32, 32, 3\): the model takes 28x28x1 images"):
        run.predict(np.zeros((5, 32, 32, 3), np.uint8))


def test_a_model_with_min_pooling_loads_in_a_fresh_process(tmp_path):
    run = _train("pooling", ["--config", str(ROOT / "configs" / "pooling.yaml"), "--data", str(MNIST_NPZ),
                             "--subset", "200", "--epochs", "1"])
    code = (f"import cnn_cli, numpy as np; r = cnn_cli.load_run({str(run)!r}); "
            "print(r.predict(np.zeros((2, 28, 28, 1), np.uint8)).shape, "
            "[l.__class__.__name__ for l in r.model.layers if 'Min' in l.__class__.__name__])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=240,
                         env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "(2, 10) ['MinPooling2D']"


def test_load_run_errors_are_one_line(tmp_path):
    with pytest.raises(CnnError, match="no such run directory"):
        cnn_cli.load_run(tmp_path / "nowhere")
    assert Path(mnist_run()).is_dir()


def test_image_files_are_resized_as_the_run_resized_its_training_images(tmp_path):
    """A run trained with `data.resize: pad` gets its image files padded by load_run (and `cnn inspect`), as
    `cnn predict` and training pad them, not stretched."""
    from cnn_cli.data.images import read_image
    from cnn_cli.rundir.run_reader import read_run
    from tests.run_helpers import copy_run

    run_dir = copy_run(mnist_run(), tmp_path)
    config = run_dir / "config.yaml"
    text = config.read_text()
    assert "resize: stretch" in text
    config.write_text(text.replace("resize: stretch", "resize: pad"))
    wide = tmp_path / "wide.png"
    Image.fromarray(np.load(MNIST_NPZ)["x_test"][0]).resize((56, 28)).save(wide)
    assert read_run(run_dir).resize == "pad"
    pixels = cnn_cli.load_run(run_dir).pixels(str(wide))[0]
    np.testing.assert_array_equal(pixels, read_image(wide, (28, 28, 1), "pad"))
    assert not np.array_equal(pixels, read_image(wide, (28, 28, 1), "stretch"))
