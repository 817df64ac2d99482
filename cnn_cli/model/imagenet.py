"""Keras' published ImageNet weights for the five architectures of configs/applications/ (`model.weights:
imagenet` with `model.architecture`): the file without the classifier (Keras' *notop* file), where Keras
downloads it from, its hash, and the preprocessing the weights were trained with.

File names, origins and hashes are those of keras/src/applications/*.py (Keras 3.15); MobileNetV2 has one
file per trained resolution (96..224, the input's when it is one of them, as Keras picks) and no hash;
MobileNetV3's are those of alpha 1.0, not minimalistic (Keras' `_no_top_v2` files: up to `conv_1_bn`, so the
1x1 convolution `conv_2` after the pooling starts new, as the classifier does).
`fetch` gets the file through `keras.utils.get_file`: Keras' own cache (`$KERAS_HOME/models`, else
`~/.keras/models`), downloaded once, checked against the hash. Importing this module imports no Keras.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cnn_cli.errors import CnnError, short_reason
from cnn_cli.model.preprocess import IMAGENET_STD

STORAGE = "https://storage.googleapis.com/"
MOBILENET_V2_SIZES = (96, 128, 160, 192, 224)


@dataclass(frozen=True)
class ImagenetFile:
    """One architecture's notop file. `preprocess` is the `model.preprocess` the weights expect ("none":
    the model's own first layers scale the pixels). `variance_factors`: EfficientNet's published
    `normalization` variance is the standard deviation, which Keras corrects with an extra
    Rescaling(1/sqrt(std)) after it when weights are imagenet; loading multiplies the variance by these
    factors instead (sqrt(v) * sqrt(s) = sqrt(v * s)), so the graph stays the twin of weights=None.
    `renames`: layers of the file (a pattern of names) that the twin names otherwise. Keras numbers the names
    of unnamed layers by the models built before in the session (`normalization_1`); and its notop ConvNeXt
    ends in an unnamed layer norm (before pooling) that holds the trained weights of the head's layer norm
    (after pooling)."""

    file_name: str
    origin_dir: str
    file_hash: str | None
    preprocess: str
    variance_factors: dict[str, tuple[float, ...]] | None = None
    renames: dict[str, str] | None = None
    backbone: tuple[str, int] = ("", 0)
    """The architecture's last layer before its classifier and the weights up to it (Keras' notop model's
    count, whatever the input size): `model.architecture` is checked against the network by these."""


TABLE: dict[str, ImagenetFile] = {
    "resnet50": ImagenetFile(
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        STORAGE + "tensorflow/keras-applications/resnet/", "4d473c1dd8becc155b73f8504c6f6626", "caffe",
        backbone=("conv5_block3_out", 23_587_712)),
    "resnet101": ImagenetFile(
        "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5",
        STORAGE + "tensorflow/keras-applications/resnet/", "88cf7a10940856eca736dc7b7e228a21", "caffe",
        backbone=("conv5_block3_out", 42_658_176)),
    "resnet152": ImagenetFile(
        "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5",
        STORAGE + "tensorflow/keras-applications/resnet/", "ee4c566cf9a93f14d82f913c2dc6dd0c", "caffe",
        backbone=("conv5_block3_out", 58_370_944)),
    "inception_v3": ImagenetFile(
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        STORAGE + "tensorflow/keras-applications/inception_v3/",
        "bcbd6486424b2319ff4ef7d526e38f63", "tf", backbone=("mixed10", 21_802_784)),
    "mobilenet_v2": ImagenetFile(
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5",
        STORAGE + "tensorflow/keras-applications/mobilenet_v2/", None, "tf", backbone=("out_relu", 2_257_984)),
    "densenet121": ImagenetFile(
        "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
        STORAGE + "tensorflow/keras-applications/densenet/", "30ee3e1110167f948a6b9946edeeb738", "torch",
        backbone=("relu", 7_037_504)),
    "efficientnet_b0": ImagenetFile(
        "efficientnetb0_notop.h5", STORAGE + "keras-applications/", "50bc09e76180e00e4465e1a485ddc09d", "none",
        variance_factors={"normalization": IMAGENET_STD}, renames={r"normalization_\d+": "normalization"}, backbone=("top_activation", 4_049_571)),
    "efficientnet_b1": ImagenetFile(
        "efficientnetb1_notop.h5", STORAGE + "keras-applications/", "74c4e6b3e1f6a1eea24c589628592432", "none",
        variance_factors={"normalization": IMAGENET_STD}, renames={r"normalization_\d+": "normalization"},
        backbone=("top_activation", 6_575_239)),
    "efficientnet_b2": ImagenetFile(
        "efficientnetb2_notop.h5", STORAGE + "keras-applications/", "111f8e2ac8aa800a7a99e3239f7bfb39", "none",
        variance_factors={"normalization": IMAGENET_STD}, renames={r"normalization_\d+": "normalization"},
        backbone=("top_activation", 7_768_569)),
    "efficientnet_b3": ImagenetFile(
        "efficientnetb3_notop.h5", STORAGE + "keras-applications/", "af6d107764bb5b1abb91932881670226", "none",
        variance_factors={"normalization": IMAGENET_STD}, renames={r"normalization_\d+": "normalization"},
        backbone=("top_activation", 10_783_535)),
    "mobilenet_v3_large": ImagenetFile(
        "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5", STORAGE + "tensorflow/keras-applications/mobilenet_v3/",
        "07fb09a5933dd0c8eaafa16978110389", "none", backbone=("conv_1_act", 2_996_352)),
    "mobilenet_v3_small": ImagenetFile(
        "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5", STORAGE + "tensorflow/keras-applications/mobilenet_v3/",
        "d3e8ec802a04aa4fc771ee12a9a9b836", "none", backbone=("conv_1_act", 939_120)),
    "convnext_tiny": ImagenetFile(
        "convnext_tiny_notop.h5", STORAGE + "tensorflow/keras-applications/convnext/",
        "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1", "none",
        renames={r"layer_normalization(_\d+)?": "convnext_tiny_head_layernorm"},
        backbone=("convnext_tiny_stage_3_block_2_identity", 27_818_592)),
}


def file_name(architecture: str, input_shape: tuple[int, ...]) -> str:
    """The file's name in Keras' cache; MobileNetV2's names the resolution it was trained at."""
    name = TABLE[architecture].file_name
    if "{size}" in name:
        height, width = input_shape[:2]
        name = name.format(size=height if height == width and height in MOBILENET_V2_SIZES else 224)
    return name


def keras_cache() -> Path:
    """The folder `keras.utils.get_file` keeps models in: $KERAS_HOME/models, else ~/.keras/models, or
    /tmp/.keras/models when that home cannot be written (Keras' own rule)."""
    home = os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))
    try:
        os.makedirs(home, exist_ok=True)
    except OSError:
        pass
    if not os.access(home, os.W_OK):
        home = "/tmp/.keras"
    return Path(home) / "models"


def fetch(architecture: str, input_shape: tuple[int, ...]) -> Path:
    """The local path of the architecture's notop file, downloaded into Keras' cache if it is not there;
    a failed download or a wrong file is one line that says where Keras looked and how to place the file."""
    import keras

    entry, name = TABLE[architecture], file_name(architecture, input_shape)
    cache = keras_cache()
    origin = entry.origin_dir + name
    try:
        return Path(keras.utils.get_file(name, origin, cache_subdir="models", file_hash=entry.file_hash,
                                         cache_dir=str(cache.parent)))
    except Exception as exc:  # noqa: BLE001 (urllib's errors, Keras' hash check: any failure is the same advice)
        target = cache / name
        found = "; the file there does not have Keras' hash " + entry.file_hash if (
            target.is_file() and entry.file_hash and not _hash_matches(target, entry.file_hash)) else ""
        raise CnnError(
            f"model.weights: imagenet: could not get {name} ({short_reason(exc)}); Keras looked for {target}{found}. "
            f"Download {origin} on a machine with network access and place it at {target}, then run again"
        ) from None


def _hash_matches(path: Path, expected: str) -> bool:
    digest = hashlib.sha256() if len(expected) == 64 else hashlib.md5()  # noqa: S324 (Keras' own choice)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == expected


def architecture_problem(architecture: str, nodes) -> str | None:
    """Why the graph's `nodes` (in order, each with `name`, `spec`, `input_shapes`, `shape`) cannot be
    `architecture`: its backbone's last layer is missing, or the weights up to it are not the architecture's.
    None when they are."""
    last, expected = TABLE[architecture].backbone
    names = [node.name for node in nodes]
    if last not in names:
        return f"it has no layer {last!r}, where {architecture}'s backbone ends"
    count = sum(node.spec.cost(node.input_shapes, node.shape).params for node in nodes[: names.index(last) + 1])
    if count != expected:
        return f"its layers up to {last!r} hold {count:,} weights, {architecture}'s {expected:,}"
    return None
