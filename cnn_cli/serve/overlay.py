"""A Grad-CAM map drawn over the image the model saw, as a PNG: the model's input enlarged (nearest neighbour,
so a 28x28 digit stays the 28x28 pixels the model took), the map enlarged smoothly (bilinear) to the same size,
coloured from blue (none) through green and yellow to red (most), and blended more strongly where the map is
higher."""

from __future__ import annotations

import io

import numpy as np

SIDE = 256  # the drawing's longer side, at least
# blue -> cyan -> green -> yellow -> red, at evenly spaced map values
COLOURS = np.array([[0, 0, 160], [0, 160, 255], [0, 200, 80], [255, 220, 0], [230, 30, 20]], dtype=np.float32)


def colour(values: np.ndarray) -> np.ndarray:
    """float32 RGB (..., 3) of map values in [0, 1]."""
    steps = np.linspace(0.0, 1.0, len(COLOURS))
    return np.stack([np.interp(values, steps, COLOURS[:, c]) for c in range(3)], axis=-1)


def overlay_png(pixels: np.ndarray, cam: np.ndarray) -> bytes:
    """The PNG bytes of `cam` (h, w, in [0, 1]) over `pixels` (uint8 (H, W, C), the model's input)."""
    from PIL import Image

    height, width = pixels.shape[:2]
    scale = max(1, -(-SIDE // max(height, width)))
    size = (width * scale, height * scale)
    channels = pixels.shape[2]
    base = Image.fromarray(pixels[..., 0] if channels == 1 else pixels[..., :3]).convert("RGB")
    base = np.asarray(base.resize(size, Image.Resampling.NEAREST), dtype=np.float32)
    heat = Image.fromarray(np.asarray(cam, dtype=np.float32), mode="F").resize(size, Image.Resampling.BILINEAR)
    heat = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)
    alpha = (0.2 + 0.45 * heat)[..., None]
    blended = base * (1 - alpha) + colour(heat) * alpha
    out = io.BytesIO()
    Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()
