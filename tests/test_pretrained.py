"""`model.preprocess` (each family's preprocess_input in the model's input_scaling, said by `cnn summary`) and
`model.weights` through the real CLI on the MNIST and Fashion-MNIST samples: a run directory, a .keras file and
a .weights.h5 file start a new run, the head left new; a file that matches too little, a missing file, an
unknown suffix, `--init-from` with it, `imagenet` without its architecture or with the wrong preprocessing are
one line, exit 2, before training; a resumed run does not reload them."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_cli.cli import main
from cnn_cli.errors import ConfigError
from cnn_cli.resolve import config_from_dict, load_config
from tests.conftest import load_config_dict
from tests.run_helpers import ROOT

MNIST = ["--config", "configs/mnist.yaml", "--data", "data/mnist_sample.npz", "--subset", "300",
         "--set", "train.deterministic=true"]


def _small(preprocess: str, channels: int = 3):
    return config_from_dict({"name": "p", "model": {
        "input_shape": [6, 5, channels], "num_classes": 2, "preprocess": preprocess,
        "layers": [{"type": "conv2d", "filters": 2, "kernel_size": 1}, {"type": "flatten"},
                   {"type": "dense", "units": 2, "activation": "softmax"}]}}, "p.yaml")


@pytest.mark.parametrize("mode", ["tf", "torch", "caffe"])
def test_each_preprocess_is_keras_preprocess_input(mode):
    import keras
    from keras.applications import imagenet_utils

    from cnn_cli.model.builder import build_model

    config = _small(mode)
    model = build_model(config.model, (6, 5, 3), 2, "p.yaml")
    x = np.random.default_rng(0).integers(0, 256, (4, 6, 5, 3)).astype("float32")
    scaled = np.asarray(keras.Model(model.inputs, model.get_layer("input_scaling").output)(x))
    expected = imagenet_utils.preprocess_input(x.copy(), mode=mode)
    assert not np.allclose(expected, x / 255)
    np.testing.assert_allclose(scaled, expected, rtol=1e-6, atol=2e-5)
    assert [layer.name for layer in model.layers][1:3] == (["input_bgr", "input_scaling"] if mode == "caffe"
                                                           else ["input_scaling", "conv2d"])


def test_unit_and_none():
    import keras

    from cnn_cli.model.builder import build_model

    x = np.arange(90, dtype="float32").reshape(1, 6, 5, 3)
    unit = build_model(_small("unit").model, (6, 5, 3), 2, "p.yaml")
    np.testing.assert_allclose(np.asarray(keras.Model(unit.inputs, unit.get_layer("input_scaling").output)(x)),
                               x / 255, rtol=1e-6)
    none = build_model(_small("none").model, (6, 5, 3), 2, "p.yaml")
    assert "input_scaling" not in [layer.name for layer in none.layers]


def test_torch_and_caffe_take_rgb():
    with pytest.raises(ConfigError) as error:
        _small("caffe", channels=1)
    assert str(error.value) == ("p.yaml: model.preprocess: caffe preprocessing takes RGB images (3 channels); "
                                "the input has 1, received 'caffe'")


def test_summary_states_the_preprocessing(runner, write_config):
    config = _small("torch").model_dump(exclude_none=True)
    result = runner.invoke(main, ["summary", "--config", write_config(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert ("Preprocessing:         model.preprocess: torch: pixels / 255, minus the ImageNet mean, over its "
            "standard deviation per channel (torch style) (input_scaling)") in result.output.splitlines()


def test_imagenet_needs_the_architecture_and_its_preprocessing():
    with pytest.raises(ConfigError) as error:
        load_config("configs/fashion_mnist.yaml", ("model.weights=imagenet",))
    assert "model.weights: imagenet needs model.architecture, the keras.applications architecture" in str(error.value)
    with pytest.raises(ConfigError) as error:
        load_config("configs/applications/resnet50.yaml", ("model.weights=imagenet", "model.preprocess=tf"))
    assert str(error.value).endswith("model.preprocess: the ImageNet weights of resnet50 expect caffe preprocessing "
                                     "(set model.preprocess: caffe), received 'tf'")
    config = load_config("configs/applications/efficientnet_b0.yaml", ("model.weights=imagenet",))
    assert config.model.architecture == "efficientnet_b0" and config.model.preprocess == "unit"


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    """A small MNIST net trained one epoch on the Fashion-MNIST sample."""
    from click.testing import CliRunner

    run = tmp_path_factory.mktemp("fashion") / "run"
    result = CliRunner().invoke(main, ["train", "--config", "configs/mnist.yaml", "--data",
                                       "data/fashion_mnist_sample.npz", "--subset", "300", "--epochs", "1",
                                       "--run-dir", str(run)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return run


def _train(runner, args, expect=0):
    result = runner.invoke(main, ["train", *args], catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


def _conv(path, name="conv2d_1"):
    import keras

    return keras.saving.load_model(path, safe_mode=True).get_layer(name).get_weights()[0]


def test_a_run_a_keras_file_and_a_weights_file_start_a_new_run(runner, tmp_path, source_run):
    import keras

    weights_h5 = tmp_path / "fashion.weights.h5"
    keras.saving.load_model(source_run / "model.keras", safe_mode=True).save_weights(weights_h5)
    for i, given in enumerate([source_run, source_run / "model.keras", weights_h5]):
        target = tmp_path / f"target{i}"
        result = _train(runner, [*MNIST, "--epochs", "1", "--run-dir", str(target), "--set", f"model.weights={given}",
                                 "--set", "model.layers[7].units=32", "--set", "train.optimizer.learning_rate=1e-12"])
        lines = result.output.splitlines()
        assert f"Initialized 3 of 5 layers with weights from {given}: conv2d, conv2d_1, conv2d_2" in lines
        assert ("Left as initialized (2): dense (shapes 576x32, 32, source 576x64, 64), "
                "dense_1 (shapes 32x10, 10, source 64x10, 10)") in lines
        np.testing.assert_allclose(_conv(target / "model.keras"), _conv(source_run / "model.keras"), atol=1e-6)


def test_bad_weights_are_one_line_before_training(runner, tmp_path, source_run):
    import keras

    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="other")])
    foreign = tmp_path / "other.weights.h5"
    other.save_weights(foreign)
    result = _train(runner, [*MNIST, "--set", f"model.weights={foreign}"], expect=2)
    assert result.output.strip().splitlines()[-1] == (
        f"Error: --set: model.weights: {foreign} sets only 0 of the model's 5 layers with weights (by name and "
        "weight shapes; at least half must match): weights of another architecture?")
    import yaml

    config = yaml.safe_load((ROOT / "configs" / "mnist.yaml").read_text())
    config["model"]["weights"] = str(foreign)
    written = tmp_path / "with_weights.yaml"
    written.write_text(yaml.safe_dump(config))
    result = _train(runner, ["--config", str(written), *MNIST[2:]], expect=2)
    assert result.output.strip().splitlines()[-1].startswith(f"Error: {written}: model.weights: {foreign} sets only 0")

    unknown = tmp_path / "weights.pt"
    unknown.write_bytes(b"x")
    cases = {str(tmp_path / "nowhere.h5"): "expected imagenet, or a weights file or run directory that exists: not found",
             str(unknown): "expected a .weights.h5, .h5, .keras file or a run directory",
             str(tmp_path): "expected a run directory with its model.keras"}
    for given, expected in cases.items():
        result = _train(runner, [*MNIST, "--set", f"model.weights={given}"], expect=2)
        assert len(result.output.strip().splitlines()) == 1 and "model.weights: " + expected in result.output

    both = _train(runner, [*MNIST, "--set", f"model.weights={source_run}", "--init-from", str(source_run)], expect=2)
    assert f"--init-from {source_run} gives starting weights too; use one of them" in both.output


def test_a_missing_weights_file_is_named_where_it_was_given(runner, write_config):
    """Given with --set, the line names the --set; written in the config, the config file."""
    missing = "nowhere.weights.h5"  # relative to the repository root, where the tests run
    expected = f"model.weights: expected imagenet, or a weights file or run directory that exists: not found, " \
               f"received '{missing}'"
    given = _train(runner, [*MNIST, "--set", f"model.weights={missing}"], expect=2)
    assert given.output.strip() == f"Error: --set: {expected}"
    config = load_config_dict("mnist")
    config["model"]["weights"] = str(missing)
    path = write_config(config)
    written = _train(runner, ["--config", path, *MNIST[2:]], expect=2)
    assert written.output.strip() == f"Error: {path}: {expected}"


def test_a_resumed_run_does_not_reload_its_weights(runner, tmp_path, source_run, monkeypatch):
    import shutil

    copy, run = tmp_path / "copy", tmp_path / "run"
    shutil.copytree(source_run, copy)
    monkeypatch.setenv("CNN_TEST_STOP_AFTER_EPOCH", "1")
    first = _train(runner, [*MNIST, "--epochs", "2", "--run-dir", str(run), "--set", f"model.weights={copy}"],
                   expect=130)
    assert f"Initialized 5 of 5 layers with weights from {copy}: " in first.output
    monkeypatch.delenv("CNN_TEST_STOP_AFTER_EPOCH")
    shutil.rmtree(copy)
    resumed = _train(runner, ["--resume", str(run)])
    assert "Initialized" not in resumed.output


def test_a_caffe_model_saves_and_loads_in_safe_mode(tmp_path):
    import keras

    from cnn_cli.model.builder import build_model
    from cnn_cli.model.file_safety import check_keras_file

    model = build_model(_small("caffe").model, (6, 5, 3), 2, "p.yaml")
    path = tmp_path / "caffe.keras"
    model.save(path)
    check_keras_file(path)
    again = keras.saving.load_model(path, safe_mode=True)
    assert type(again.get_layer("input_bgr")).__name__ == "ReverseChannels"
    x = np.random.default_rng(1).integers(0, 256, (3, 6, 5, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))
    np.testing.assert_array_equal(np.asarray(again.get_layer("input_bgr")(x)), x[..., ::-1])
