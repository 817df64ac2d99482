"""What the model does to its pixels (0..255) before its first layer: `model.preprocess`, the families of
keras.applications' `preprocess_input`, as the scale and offset of the `input_scaling` Rescaling that
graph.py places (caffe's RGB-to-BGR flip is a `reverse_channels` node before it), and the line `cnn summary`
prints. A first layer `rescaling` or `normalization` scales the pixels itself (EfficientNet, ConvNeXt)."""

from __future__ import annotations

from cnn_cli.config.model import ModelConfig

SELF_SCALING = ("rescaling", "normalization")
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB, of pixels 0..1 (keras.applications.imagenet_utils)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # of pixels 0..255, in BGR order
SCALINGS: dict[str, tuple[float | list[float], float | list[float]]] = {  # preprocess -> (scale, offset)
    "unit": (1 / 255, 0.0),
    "tf": (1 / 127.5, -1.0),
    "torch": ([1 / (255 * s) for s in IMAGENET_STD], [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]),
    "caffe": (1.0, [-m for m in CAFFE_MEAN_BGR]),  # after input_bgr
}
DESCRIPTIONS = {
    "unit": "pixels / 255 (0..1)",
    "tf": "pixels / 127.5 - 1 (-1..1), as keras.applications' tf-style preprocess_input",
    "torch": "pixels / 255, minus the ImageNet mean, over its standard deviation per channel (torch style)",
    "caffe": "RGB to BGR, minus the ImageNet mean per channel (caffe style)",
    "none": "pixels as they are (0..255)",
}


def preprocessing(model: ModelConfig) -> str:
    """What the model does to its pixels before the first layer: `model.preprocess`, or "none" when the
    first layer (`rescaling` or `normalization`) scales them itself and the key asks for unit or none."""
    if model.layers[0].type in SELF_SCALING and model.preprocess in ("unit", "none"):
        return "none"
    return model.preprocess


def describe_preprocessing(model: ModelConfig) -> str:
    """One line for `cnn summary`: what happens to the pixels 0..255 the model takes."""
    mode = preprocessing(model)
    if mode == "none" and model.layers[0].type in SELF_SCALING:
        return f"model.preprocess: {model.preprocess}; the first layer ({model.layers[0].type}) scales the pixels 0..255 itself"
    where = " (input_bgr, input_scaling)" if mode == "caffe" else " (input_scaling)" if mode != "none" else ""
    return f"model.preprocess: {mode}: {DESCRIPTIONS[mode]}{where}"
