"""The offline proof that the five configs of configs/applications/ take Keras' weights: a keras.applications
model built with weights=None, its weights drawn at random (so a weight set into the wrong layer shows), saved
as Keras 3 `.weights.h5`, legacy `.h5` (the layout of Keras' published files) or `.keras`, loaded into the
YAML-built twin through `model.weights`' reader, gives the same outputs on the same pixels, the twin's
`model.preprocess` doing what each family's `preprocess_input` does. Then `weights: imagenet`: a file placed by
hand in a temporary KERAS_HOME under Keras' name is picked up, and a failed download says where Keras looked."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

from cnn_cli.errors import CnnError
from cnn_cli.resolve import load_config

ROOT = Path(__file__).resolve().parents[1]
APPLICATIONS = ROOT / "configs" / "applications"
SIZE = 64
CLASSES = 7

# config -> keras.applications class, the mode of its preprocess_input (None: inside the model)
KERAS = {"resnet50": ("ResNet50", "caffe"), "mobilenet_v2": ("MobileNetV2", "tf"),
         "densenet121": ("DenseNet121", "torch"), "efficientnet_b0": ("EfficientNetB0", None),
         "convnext_tiny": ("ConvNeXtTiny", None)}
# notop: the last layer both models share, whose output is compared
LAST_SHARED = {"mobilenet_v2": "out_relu", "convnext_tiny": "convnext_tiny_stage_3_block_2_add",
               "efficientnet_b0": "top_activation"}


def _keras_model(name: str, top: bool, seed: int = 0):
    """keras.applications' model, weights=None, made to look trained: its kernels as Keras draws them, every
    weight Keras starts at a constant drawn at random around it (so that a weight set into the wrong layer
    shows), then its batch norms' statistics those of the compared images, so that they reach the output. Keras' names of unnamed layers count the models built before (`normalization_1`): the session is
    cleared first."""
    import keras

    keras.utils.clear_session()
    cls = getattr(keras.applications, KERAS[name][0])
    extra = {"classes": CLASSES} if top else {}
    model = cls(weights=None, include_top=top, input_shape=(SIZE, SIZE, 3), **extra)
    rng = np.random.default_rng(seed)
    _draw(model, rng, ("bias", "mean", "variance", "gamma", "beta"))
    _calibrate(model, name)
    return model


def _calibrate(model, name: str) -> None:
    """Batch norms' moving statistics from the compared batch: one training pass with momentum 0 and no
    dropout, so that inference on it sees what that pass saw (no channel of tiny variance amplified)."""
    import keras

    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
        elif isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    model(_preprocessed(name, _pixels()), training=True)


def _draw(model, rng, kinds: tuple[str, ...]) -> None:
    for layer in _all_layers(model):
        for w in layer.weights:
            last = w.path.rsplit("/", 1)[-1]
            if last in kinds and last in ("gamma", "variance"):
                w.assign(rng.uniform(0.5, 1.5, w.shape).astype(w.dtype))
            elif last in kinds:
                w.assign(rng.normal(0, 0.1, w.shape).astype(w.dtype))
        if hasattr(layer, "finalize_state") and "variance" in kinds:
            layer.finalize_state()  # a Normalization's mean and variance, from its weights


def _all_layers(model) -> list:
    import keras

    return [inner for layer in model.layers
            for inner in (_all_layers(layer) if isinstance(layer, keras.Model) else [layer])]


def _preprocessed(name: str, x: np.ndarray) -> np.ndarray:
    from keras.applications import imagenet_utils

    mode = KERAS[name][1]
    return imagenet_utils.preprocess_input(x.copy(), mode=mode) if mode else x


def _save(model, path: Path) -> Path:
    if path.name.endswith(".weights.h5"):
        model.save_weights(path)
    else:
        model.save(path)  # .keras, or a legacy .h5 (model_weights: layer_names, weight_names)
    return path


def _twin(name: str, top: bool, overrides: tuple[str, ...] = ()):
    from cnn_cli.model.builder import build_model

    config = load_config(APPLICATIONS / f"{name}.yaml", (f"model.input_shape=[{SIZE},{SIZE},3]",
                                                         f"model.num_classes={CLASSES}", *overrides))
    return config, build_model(config.model, (SIZE, SIZE, 3), CLASSES, name)


def _pixels(seed: int = 1, n: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, SIZE, SIZE, 3)).astype("float32")


def _outputs(ours, theirs, name: str, top: bool, x: np.ndarray):
    """(ours, theirs) on the pixels `x`: theirs after its family's preprocess_input, ours on the raw pixels."""
    import keras

    given = _preprocessed(name, x)
    expected = np.asarray(theirs(given, training=False))
    if not top:
        ours = keras.Model(ours.inputs, ours.get_layer(LAST_SHARED[name]).output)
        if name == "convnext_tiny":  # Keras' notop ConvNeXt ends in a layer norm of its own: compare before it
            expected = np.asarray(keras.Model(theirs.inputs, theirs.layers[-1].input)(given, training=False))
    return np.asarray(ours(x, training=False)), expected


def _close(got: np.ndarray, expected: np.ndarray) -> None:
    """Equal up to float rounding carried through the network (x * (1/127.5) - 1 for Keras' x / 127.5 - 1, and
    EfficientNet's variance folded: one unit in the last place at the input, grown by the batch norms of
    channels with little variance): within 1e-3 of the output's largest value."""
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * float(np.abs(expected).max()))


CASES = [
    pytest.param("mobilenet_v2", "h5", False, id="mobilenet_v2-legacy_h5-notop"),
    pytest.param("resnet50", "weights.h5", True, id="resnet50-weights_h5", marks=pytest.mark.slow),
    pytest.param("densenet121", "keras", True, id="densenet121-keras", marks=pytest.mark.slow),
    pytest.param("efficientnet_b0", "weights.h5", True, id="efficientnet_b0-weights_h5", marks=pytest.mark.slow),
    pytest.param("convnext_tiny", "h5", False, id="convnext_tiny-legacy_h5-notop", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name, suffix, top", CASES)
def test_the_twin_loads_keras_weights_with_identical_outputs(tmp_path, name, suffix, top):
    from cnn_cli.model.weights import load_matching, read_weights

    theirs = _keras_model(name, top)
    path = _save(theirs, tmp_path / f"{name}.{suffix}")
    _, ours = _twin(name, top)
    loaded, left = load_matching(ours, read_weights(path))
    weighted = [layer.name for layer in ours.layers if layer.weights]
    head = {"mobilenet_v2": ["predictions"], "convnext_tiny": ["convnext_tiny_head_layernorm", "convnext_tiny_head_dense"]}
    assert [entry.split(" ")[0] for entry in left] == ([] if top else head[name])
    assert sorted(loaded) == sorted(set(weighted) - set(head.get(name, []) if not top else []))
    got, expected = _outputs(ours, theirs, name, top, _pixels())
    other, _ = _outputs(ours, theirs, name, top, _pixels(seed=2))
    assert got.shape == expected.shape and np.abs(got - other).max() > 1e-2 * np.abs(got).max()  # the pixels count
    _close(got, expected)


def test_a_legacy_file_with_keras_2_names(tmp_path):
    """Keras 2's files name DenseNet's stem `conv1/conv` and hold a nested model's weights under its group;
    both reach the layers Keras 3 names `conv1_conv` and `stem_conv`."""
    import h5py

    from cnn_cli.model.weights import read_weights

    path = tmp_path / "keras2.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"conv1/conv", b"stem", b"relu"]
        conv = f.create_group("conv1/conv")
        conv.attrs["weight_names"] = [b"conv1/conv/kernel:0"]
        conv["conv1/conv/kernel:0"] = np.ones((3, 3, 3, 4), "float32")
        stem = f["/"].create_group("stem")
        stem.attrs["weight_names"] = [b"stem_conv/kernel:0", b"stem_conv/bias:0", b"stem_ln/gamma:0"]
        stem["stem_conv/kernel:0"], stem["stem_conv/bias:0"] = np.zeros((2, 2, 4, 8)), np.arange(8.0)
        stem["stem_ln/gamma:0"] = np.full(8, 2.0)
        f.create_group("relu").attrs["weight_names"] = np.array([], dtype="S1")
    found = read_weights(path)
    assert {k: [a.shape for a in v] for k, v in found.items()} == {
        "conv1_conv": [(3, 3, 3, 4)], "stem_conv": [(2, 2, 4, 8), (8,)], "stem_ln": [(8,)]}
    np.testing.assert_array_equal(found["stem_conv"][1], np.arange(8.0))


def test_not_a_weights_file_is_one_line(tmp_path):
    from cnn_cli.model.weights import read_weights

    bad = tmp_path / "notes.weights.h5"
    bad.write_text("not hdf5")
    with pytest.raises(CnnError) as error:
        read_weights(bad)
    assert str(error.value).startswith(f"model.weights: {bad}: cannot be read as Keras weights (OSError")


def _place_by_hand(tmp_path, monkeypatch, name: str, top_model) -> Path:
    """A notop file saved as Keras' published files are (legacy .h5), placed in a temporary KERAS_HOME under
    the name Keras gives it; the table's hash is this file's, since it is not Keras' real file."""
    from cnn_cli.model import imagenet

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    target = imagenet.keras_cache() / imagenet.file_name(name, (SIZE, SIZE, 3))
    target.parent.mkdir(parents=True, exist_ok=True)
    _save(top_model, target)
    digest = hashlib.md5(target.read_bytes()).hexdigest()  # noqa: S324 (Keras' own hash for this file)
    monkeypatch.setitem(imagenet.TABLE, name, dataclasses.replace(imagenet.TABLE[name], file_hash=digest,
                                                                  origin_dir="http://127.0.0.1:9/"))
    return target


def test_imagenet_picks_up_a_file_placed_by_hand_and_efficientnet_matches_keras(tmp_path, monkeypatch):
    """EfficientNet with imagenet weights: Keras adds a Rescaling(1/sqrt(std)) after its normalization; the
    twin folds it into the normalization's variance, and gives keras.applications' outputs."""
    import keras
    from keras.src.utils import file_utils  # only to hand Keras' own EfficientNetB0 the same file

    from cnn_cli.training import pretrained

    notop = _keras_model("efficientnet_b0", top=False, seed=3)
    target = _place_by_hand(tmp_path, monkeypatch, "efficientnet_b0", notop)
    assert target == tmp_path / "keras_home" / "models" / "efficientnetb0_notop.h5"
    monkeypatch.setattr(file_utils, "get_file", lambda *args, **kwargs: str(target))
    theirs = keras.applications.EfficientNetB0(weights="imagenet", include_top=False, input_shape=(SIZE, SIZE, 3))
    assert [type(layer).__name__ for layer in theirs.layers[1:4]] == ["Rescaling", "Normalization", "Rescaling"]
    _calibrate(theirs, "efficientnet_b0")  # for the pixels after Keras' extra Rescaling
    _place_by_hand(tmp_path, monkeypatch, "efficientnet_b0", theirs)  # its normalization is `normalization_1`

    config, ours = _twin("efficientnet_b0", top=False, overrides=("model.weights=imagenet",))
    lines: list[str] = []
    loaded = pretrained.load(ours, config, (SIZE, SIZE, 3), lines.append)
    assert lines[0].startswith(f"Initialized 131 of 132 layers with weights from ImageNet ({target}): ")
    assert lines[1] == "Left as initialized (1): predictions (not in the source)"
    assert "normalization" in loaded
    got, expected = _outputs(ours, theirs, "efficientnet_b0", False, _pixels())
    _close(got, expected)
    unfolded = ours.get_layer("normalization")
    mean, variance, count = unfolded.get_weights()
    unfolded.set_weights([mean, variance / np.float32([0.229, 0.224, 0.225]), count])  # Keras' rescaling undone
    unfolded.finalize_state()
    unfolded_out = _outputs(ours, theirs, "efficientnet_b0", False, _pixels())[0]
    assert np.abs(unfolded_out - expected).max() > 1e-2 * np.abs(expected).max()


def test_a_failed_download_says_where_keras_looked(tmp_path, monkeypatch):
    from cnn_cli.model import imagenet

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "offline"))
    entry = imagenet.TABLE["resnet50"]
    monkeypatch.setitem(imagenet.TABLE, "resnet50", dataclasses.replace(entry, origin_dir="http://127.0.0.1:9/"))
    with pytest.raises(CnnError) as error:
        imagenet.fetch("resnet50", (224, 224, 3))
    where = tmp_path / "offline" / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    message = str(error.value)
    assert "\n" not in message and message.startswith("model.weights: imagenet: could not get ")
    assert f"Keras looked for {where}." in message
    assert message.endswith(f"Download http://127.0.0.1:9/{where.name} on a machine with network access and "
                            f"place it at {where}, then run again")
    assert not where.exists()


def test_mobilenet_v2_takes_the_file_of_its_resolution():
    from cnn_cli.model.imagenet import file_name

    assert file_name("mobilenet_v2", (160, 160, 3)) == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5"
    assert file_name("mobilenet_v2", (64, 64, 3)) == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"


def test_imagenet_convnext_gives_the_notop_layer_norm_to_the_head(tmp_path, monkeypatch):
    """Keras' notop ConvNeXt ends in an unnamed `layer_normalization`: its trained weights are the head's."""
    from cnn_cli.training import pretrained

    notop = _keras_model("convnext_tiny", top=False, seed=4)
    _place_by_hand(tmp_path, monkeypatch, "convnext_tiny", notop)
    config, ours = _twin("convnext_tiny", top=False, overrides=("model.weights=imagenet",))
    lines: list[str] = []
    loaded = pretrained.load(ours, config, (SIZE, SIZE, 3), lines.append)
    assert "convnext_tiny_head_layernorm" in loaded and len(loaded) == 99
    assert lines[1] == "Left as initialized (1): convnext_tiny_head_dense (not in the source)"
    np.testing.assert_array_equal(ours.get_layer("convnext_tiny_head_layernorm").get_weights()[0],
                                  notop.layers[-1].get_weights()[0])
