"""Which layer kinds export to which format: a table keyed by the Keras class name of each layer.

A kind is listed once its export to each named format passed verification in tests/test_export.py; a new
kind of the language is one line here. A model with a kind that is not listed for a format (or not listed
at all) is refused before anything is written, in one line naming the kinds and the format.
"""

from __future__ import annotations

from pathlib import Path

from cnn_cli.errors import CnnError

FORMATS = ("saved_model", "onnx", "litert")
ALL = frozenset(FORMATS)

EXPORTS_TO: dict[str, frozenset[str]] = {
    "InputLayer": ALL,
    "Conv2D": ALL,  # grouped: to ONNX as a depthwise or split convolution (rewrite.py)
    "DepthwiseConv2D": ALL,
    "SeparableConv2D": ALL,
    "MaxPooling2D": ALL,
    "AveragePooling2D": ALL,
    "MinPooling2D": ALL,  # the tool's own layer (registered as cnn>MinPooling2D): -max_pool(-x)
    "GlobalMaxPooling2D": ALL,
    "GlobalAveragePooling2D": ALL,
    "BatchNormalization": ALL,
    "LayerNormalization": ALL,
    "Dropout": ALL,
    "Flatten": ALL,
    "Dense": ALL,
    "Activation": ALL,  # gelu (here, in Dense, in convolutions): from basic operators (rewrite.py)
    "Softmax": ALL,  # not a kind: the export adds it to a model that ends in scores
    "Concatenate": ALL,
    "Add": ALL,
    "Rescaling": ALL,
    "ZeroPadding2D": ALL,
    "SpatialDropout2D": ALL,
    "Reshape": ALL,
    "Multiply": ALL,
    "StochasticDepth": ALL,  # the tool's own drop path (cnn>StochasticDepth): the identity at inference
    "LayerScale": ALL,  # the tool's own (cnn>LayerScale): a per-channel factor
    "ChannelPadding": ALL,  # the tool's own (cnn>ChannelPadding): a Pad on the channel axis
    "ReverseChannels": ALL,  # the tool's own (cnn>ReverseChannels): caffe preprocessing's RGB to BGR, a gather
    "Normalization": ALL,  # to ONNX and LiteRT as the equivalent Rescaling (rewrite.py)
}


def layer_kinds(model) -> list[tuple[str, str]]:
    """(Keras class name, layer name) of every layer, nested models' layers included (not the models)."""
    import keras

    kinds = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            kinds += layer_kinds(layer)
        else:
            kinds.append((type(layer).__name__, layer.name))
    return kinds


def blocking(model, fmt: str) -> dict[str, list[str]]:
    """The kinds that do not export to `fmt`: class name -> the names of its layers in the model."""
    found: dict[str, list[str]] = {}
    for kind, name in layer_kinds(model):
        if fmt not in EXPORTS_TO.get(kind, frozenset()):
            found.setdefault(kind, []).append(name)
    return found


def check(model, fmt: str, model_path: Path) -> None:
    """Refuses a model with a layer kind that does not export to `fmt`, naming the kinds and their layers."""
    found = blocking(model, fmt)
    if not found:
        return
    parts = []
    for kind, names in found.items():
        why = f"not exportable to {fmt}" if kind in EXPORTS_TO else "not in the export table"
        shown = ", ".join(repr(n) for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        parts.append(f"{kind} (layer {shown}: {why})")
    formats = sorted({f for kind in found for f in EXPORTS_TO.get(kind, ())})
    elsewhere = f"; it exports to {', '.join(formats)}" if formats and len(found) == 1 else ""
    raise CnnError(f"{model_path}: cannot export to {fmt}: layer kind{'s' if len(found) > 1 else ''} "
                   f"{'; '.join(parts)}{elsewhere}. Nothing was written")
