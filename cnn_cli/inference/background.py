"""The background of images, told by the mean of their border pixels (the outer ring, 2 pixels wide): `cnn
train` records the training images' mean in metrics.json (`training_images.border_mean`), and `cnn predict`
warns when an image's background is the opposite (light where the training images' is dark, or the reverse):
a black-on-white digit given to a model trained on MNIST's white-on-black ones."""

from __future__ import annotations

import numpy as np

RING = 2
DARK, LIGHT = 80.0, 175.0  # a border mean below DARK is a dark background, above LIGHT a light one
SAMPLE = 2048  # training images the mean is taken over
CHUNK = 128  # of them gathered at a time


def border_means(images: np.ndarray) -> np.ndarray:
    """The mean border pixel of each image of a batch (N, H, W, C), 0..255. Only the ring is converted to floats
    (a batch of large images in float64 would be 8x its size)."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    h, w = x.shape[1:3]
    ring = min(RING, max(1, min(h, w) // 4))
    mask = np.ones((h, w), bool)
    mask[ring:h - ring, ring:w - ring] = False
    return x[:, mask, :].mean(axis=(1, 2), dtype=np.float64)


def training_border_mean(images: np.ndarray, indices: np.ndarray | None = None) -> float:
    """The mean border pixel of (up to `SAMPLE` of) the training images, `images[indices]` (all when None),
    gathered `CHUNK` at a time in sorted order: a memory map is read in order, never copied whole."""
    chosen = np.sort(np.asarray(indices if indices is not None else np.arange(len(images)))[:SAMPLE])
    means = [border_means(images[chosen[i:i + CHUNK]]) for i in range(0, len(chosen), CHUNK)]
    return round(float(np.concatenate(means).mean()), 2) if means else 0.0


def kind(mean: float) -> str | None:
    return "dark" if mean < DARK else "light" if mean > LIGHT else None


def opposite_background(image_mean: float, training_mean: float | None) -> str | None:
    """A warning when the image's background is the opposite of the training images' (None: no warning)."""
    if training_mean is None:
        return None
    mine, theirs = kind(image_mean), kind(training_mean)
    if mine is None or theirs is None or mine == theirs:
        return None
    return (f"its background is {mine} (border mean {image_mean:.0f} of 255), the training images' is {theirs} "
            f"({training_mean:.0f}): the model may need the image inverted")
