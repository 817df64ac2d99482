"""Augmentation of training batches, in NumPy so that it runs the same on every backend and in the input
pipeline's worker threads.

One entry point, `augment_batch(images, labels, seed, settings, num_classes)`, called by the pipeline once per
training batch with a seed derived from (run seed, epoch, batch index): the distortions of a batch depend on
that seed alone, so a resumed run sees the ones an uninterrupted run sees, whatever thread made the batch.

`augment:` settings (`cnn_cli.config.data.Augment`): rotation (degrees), zoom (fraction in or out), width and
height shift (fractions of the size), horizontal and vertical flips. Rotation, zoom and shift are one affine
map per image, sampled bilinearly; space that comes from outside the image takes the nearest edge pixel (as
Keras' `fill_mode="nearest"`). Pixels stay in 0..255 (float32); labels pass through unchanged.
"""

from __future__ import annotations

import numpy as np

from cnn_cli.config.data import Augment


def is_active(settings: Augment | None) -> bool:
    """Whether the settings distort anything."""
    if settings is None:
        return False
    return bool(settings.rotation or settings.zoom or settings.width_shift or settings.height_shift
                or settings.horizontal_flip or settings.vertical_flip)


def augment_batch(images: np.ndarray, labels: np.ndarray, seed: int, settings: Augment | None,
                  num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """A training batch distorted: `images` float32 (B, H, W, C) pixels 0..255, `labels` int32 class indices
    (B,) or float32 one-hot rows (B, K). Returns new arrays (the inputs are not changed)."""
    del num_classes  # kept in the signature for label-mixing augmentations (MixUp, CutMix)
    if not is_active(settings):
        return images, labels
    rng = np.random.default_rng(seed)
    out = images
    if settings.rotation or settings.zoom or settings.width_shift or settings.height_shift:
        out = _affine(out, rng, settings)
    if settings.horizontal_flip:
        out = _flip(out, rng, axis=2)
    if settings.vertical_flip:
        out = _flip(out, rng, axis=1)
    return out, labels


def _flip(images: np.ndarray, rng: np.random.Generator, axis: int) -> np.ndarray:
    chosen = rng.random(len(images)) < 0.5
    out = images.copy()
    out[chosen] = np.flip(images[chosen], axis=axis)
    return out


def _affine(images: np.ndarray, rng: np.random.Generator, s: Augment) -> np.ndarray:
    """Each image rotated, zoomed and shifted by its own random amounts (bilinear, edges extended)."""
    b, h, w, _ = images.shape
    angle = np.deg2rad(rng.uniform(-s.rotation, s.rotation, b))
    zoom = rng.uniform(1.0 - s.zoom, 1.0 + s.zoom, b)  # > 1 shows more of the image (zoom out)
    dy = rng.uniform(-s.height_shift, s.height_shift, b) * h
    dx = rng.uniform(-s.width_shift, s.width_shift, b) * w
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float32) - cy, np.arange(w, dtype=np.float32) - cx, indexing="ij")
    cos, sin = (np.cos(angle) * zoom)[:, None, None], (np.sin(angle) * zoom)[:, None, None]
    # where each output pixel comes from: the inverse of rotate-zoom-shift about the centre
    src_y = cos * yy + sin * xx + cy - dy[:, None, None]
    src_x = -sin * yy + cos * xx + cx - dx[:, None, None]
    return _bilinear(images, np.clip(src_y, 0, h - 1), np.clip(src_x, 0, w - 1))


def _bilinear(images: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    h, w = images.shape[1:3]
    y0 = np.floor(y).astype(np.intp)
    x0 = np.floor(x).astype(np.intp)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (y - y0)[..., None].astype(np.float32), (x - x0)[..., None].astype(np.float32)
    n = np.arange(len(images))[:, None, None]
    top = images[n, y0, x0] * (1 - fx) + images[n, y0, x1] * fx
    bottom = images[n, y1, x0] * (1 - fx) + images[n, y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)
