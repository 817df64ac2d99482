"""Grad-CAM (Selvaraju et al., 2017): where in the image the evidence for a class lies, from the gradient of
the class score with respect to the last spatial feature maps. The gradient is taken by the backend
(`feature_gradients`, the backend capability `gradcam`: TensorFlow's GradientTape), so it runs on a backend that
declares it only (TensorFlow); on another backend `grad_cam` returns None and callers say so.

The map is computed in its HiResCAM form (Draelos and Carin, 2020): relu(sum over channels of gradient x
activation) at each position, instead of Grad-CAM's channel weights averaged over the positions. The two are
the same when the head is global average pooling; after `flatten` + `dense` (the MNIST and Fashion-MNIST nets)
the averaged weights lose which position mattered and can leave a blank map, while gradient x activation
sums to the class score and so shows where it came from.

The class score is the pre-softmax (pre-sigmoid) logit when the model ends in a Dense layer with a softmax (a
multi-label sigmoid; the gradient of
a probability near 1 vanishes), else the model's output for the class."""

from __future__ import annotations

import numpy as np

from cnn_cli.backends import current


def backend():
    """The backend (`cnn_cli.backends.current()`), which takes the gradient."""

    return current()


def available() -> bool:
    """Whether the backend offers the gradients Grad-CAM needs (declares `gradcam`: TensorFlow's does)."""
    return backend().supports("gradcam")


def cam_layer(model) -> str:
    """The last layer with a 4-D output larger than 1x1 that is not a pooling (Grad-CAM's "last convolution",
    or a block's output): the finest map that has seen the most of the network."""
    chosen = fallback = None
    for layer in model.layers[1:]:
        shape = getattr(layer, "output", None) is not None and tuple(layer.output.shape)
        if shape and len(shape) == 4 and (shape[1] or 0) * (shape[2] or 0) > 1:
            fallback = layer.name
            if "Pooling" not in type(layer).__name__:
                chosen = layer.name
    chosen = chosen or fallback
    if chosen is None:
        raise ValueError("the model has no layer with a spatial output")
    return chosen


def grad_cam(model, x: np.ndarray, classes: np.ndarray, layer_name: str | None = None) -> np.ndarray | None:
    """Grad-CAM maps (N, h, w) in [0, 1] for model inputs `x` and one class index per input; None when the
    backend does not offer `gradcam`."""
    if not available():
        return None
    import keras
    from keras import ops

    layer = model.get_layer(layer_name or cam_layer(model))
    last = model.layers[-1]
    logits = isinstance(last, keras.layers.Dense) and getattr(last.activation, "__name__", "") in ("softmax", "sigmoid")
    sub = keras.Model(model.inputs[0], [layer.output, last.input if logits else model.outputs[0]])
    wanted = ops.one_hot(np.asarray(classes, dtype=np.int32), int(model.outputs[0].shape[-1]))

    def score(head):
        """The class score of each input: its logit (or its output, when there is no softmax to undo)."""
        out = ops.cast(head, "float32")
        if logits:
            out = ops.matmul(out, ops.cast(last.kernel, "float32"))
            out = out + ops.cast(last.bias, "float32") if last.use_bias else out
        return ops.sum(out * wanted, axis=1)

    features, grads = backend().feature_gradients(sub, x, score)
    if grads is None:
        return None
    cam = np.maximum((grads * features).sum(axis=-1), 0)
    peak = cam.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, cam / np.where(peak > 0, peak, 1), 0.0).astype(np.float32)
