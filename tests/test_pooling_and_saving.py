"""Min, average and max pooling on the seed's 4x4 example; a model with the custom layer and both blocks
saved as .keras and loaded back in safe mode."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_cli.resolve import config_from_dict

SEED_4X4 = np.array([[6, 15, 21, 31], [3, 28, 23, 65], [41, 5, 56, 12], [55, 87, 12, 4]], "float32").reshape(1, 4, 4, 1)


@pytest.mark.parametrize(
    "kind,expected",
    [("max_pool2d", [[28, 65], [87, 56]]), ("min_pool2d", [[3, 21], [5, 4]]), ("avg_pool2d", [[13, 35], [47, 21]])],
)
def test_pooling_on_the_seed_example(kind, expected):
    from cnn_cli.model.builder import build_model

    config = config_from_dict({"name": "pool", "model": {"input_shape": [4, 4, 1], "layers": [{"type": kind, "pool_size": 2}]}}, "t")
    model = build_model(config.model, (4, 4, 1), None)
    out = np.asarray(model(SEED_4X4))[0, :, :, 0]  # pixels 0..255 in, the model's input_scaling divides by 255
    np.testing.assert_allclose(out * 255, expected, rtol=1e-5)


def test_min_pooling_same_padding_ignores_the_border():
    from cnn_cli.layers.custom.min_pooling import MinPooling2D

    x = np.arange(1, 10, dtype="float32").reshape(1, 3, 3, 1) + 10
    out = np.asarray(MinPooling2D(2, padding="same")(x))[0, :, :, 0]
    np.testing.assert_array_equal(out, [[11, 13], [17, 19]])


def test_model_with_min_pooling_and_blocks_round_trips_in_safe_mode(tmp_path):
    import keras

    from cnn_cli.model.builder import build_model

    config = config_from_dict({"name": "blocks", "model": {"input_shape": [28, 28, 1], "num_classes": 10, "layers": [
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
        {"type": "min_pool2d", "pool_size": 2},
        {"type": "inception", "filters_1x1": 4, "filters_3x3_reduce": 4, "filters_3x3": 8,
         "filters_5x5_reduce": 2, "filters_5x5": 4, "filters_pool_proj": 4},
        {"type": "residual", "filters": 16, "strides": 2},
        {"type": "residual", "filters": 16},
        {"type": "batch_norm"},
        {"type": "global_avg_pool2d"},
        {"type": "dense", "units": "num_classes", "activation": "softmax"},
    ]}}, "t")
    model = build_model(config.model, (28, 28, 1), 10)
    x = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1)).astype("float32")
    expected = np.asarray(model(x, training=False))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), expected, rtol=1e-6, atol=1e-6)
    assert any(type(layer).__name__ == "MinPooling2D" for layer in loaded.layers)


def test_a_model_saved_when_min_pooling_lived_in_cnn_cli_model_still_loads(tmp_path):
    """Run directories written before the layer moved to cnn_cli/layers/custom name its old module."""
    import json
    import zipfile

    import keras

    from cnn_cli.rundir.run_reader import load_model

    inputs = keras.Input((4, 4, 1))
    from cnn_cli.layers.custom.min_pooling import MinPooling2D

    model = keras.Model(inputs, MinPooling2D(2, name="min_pooling2d")(inputs))
    path, old = tmp_path / "new.keras", tmp_path / "old.keras"
    model.save(path)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            if item == "config.json":
                config = json.loads(data)
                layer = config["config"]["layers"][1]
                assert layer["module"] == "cnn_cli.layers.custom.min_pooling"
                layer["module"] = "cnn_cli.model.min_pooling"
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    loaded = load_model(old)
    np.testing.assert_array_equal(np.asarray(loaded(SEED_4X4))[0, :, :, 0], [[3, 21], [5, 4]])
