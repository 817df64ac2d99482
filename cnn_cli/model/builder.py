"""Turns a validated model config into a Keras model (functional API), walking the graph's nodes.

The nodes come from `cnn_cli.model.graph`, as the analysis' do, so the summary's names and costs line up
with Keras' layers; a block's layers are named `<block>_<part>` (e.g. `inception_3x3_reduce`). The model
takes pixels 0..255 (see graph.py's `input_scaling`). `adapt_normalization` is the trainer's hook for
`normalization` layers with `adapt: true`.
"""

from __future__ import annotations

import keras

from cnn_cli.config.model import ModelConfig
from cnn_cli.layers.base import BuildContext
from cnn_cli.model.analysis import Shape, analyze
from cnn_cli.model.graph import INPUT, Graph


def build_model(model: ModelConfig, input_shape: Shape, num_classes: int | None, source: str = "config", name: str = "cnn",
                graph: Graph | None = None, head_activation: str = "softmax") -> keras.Model:
    """Builds (but does not compile) the model for inputs of `input_shape` and `num_classes` classes (labels,
    targets), from `graph` when the caller expanded it already (a run expands its graph once), else from the
    config; the last layer's `activation: auto` is `head_activation` (the task's).

    The output layer is kept in float32 under a mixed-precision policy, so the softmax and the loss are.
    """
    if graph is None:
        graph = analyze(model, input_shape, num_classes, source).graph  # config errors before Keras sees them
    tensors = {INPUT: keras.Input(shape=tuple(input_shape), name=INPUT)}
    for node in graph.nodes:
        ctx = BuildContext(num_classes, "float32" if node.name == graph.output else None, head_activation)
        tensors[node.name] = node.spec.build([tensors[i] for i in node.inputs], node.name, ctx)
    return keras.Model(tensors[INPUT], tensors[graph.output], name=name)


def adapt_normalization(model: keras.Model, images, batch_size: int = 256, skip=()) -> list[str]:
    """Computes mean and variance of each `normalization` layer built with `adapt: true` from `images`
    (a NumPy array or a batched dataset of training images, pixels 0..255) as they reach that layer,
    except the layers named in `skip` (given starting weights).

    Call it once after `build_model` and before `fit`. Returns the names of the layers adapted.
    """
    adapted = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Normalization) and layer.input_mean is None and layer.name not in skip:
            reach = keras.Model(model.inputs, layer.input)
            features = reach.predict(images, batch_size=batch_size, verbose=0)
            layer.adapt(features)
            adapted.append(layer.name)
    return adapted
