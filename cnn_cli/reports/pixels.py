"""Pixels for people: feature maps tiled into grids, filters, Grad-CAM overlays, and PNG encoding (Pillow).

Arrays in, uint8 RGB arrays or PNG bytes out; no model and no run directory here. Small images are enlarged
with nearest-neighbour sampling so a 3x3 filter or a 7x7 map stays a grid of visible squares."""

from __future__ import annotations

import io

import numpy as np

PAD = 1
SEPARATOR = (255, 255, 255)


def png(array: np.ndarray) -> bytes:
    """uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) as PNG bytes."""
    from PIL import Image

    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def enlarge(array: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of the first two axes by an integer factor."""
    factor = max(1, int(factor))
    return array.repeat(factor, axis=0).repeat(factor, axis=1)


def normalize(maps: np.ndarray, axis=(0, 1)) -> np.ndarray:
    """Each map scaled to [0, 1] on its own (a constant map becomes 0)."""
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float32))
    low = maps.min(axis=axis, keepdims=True)
    span = maps.max(axis=axis, keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0.0)


def colorize(values: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """Values in [0, 1] (NaN for separators, drawn white) as uint8 RGB through a matplotlib colour map."""
    from matplotlib import colormaps

    rgb = (colormaps[cmap](np.nan_to_num(values))[..., :3] * 255).round().astype(np.uint8)
    rgb[np.isnan(values)] = SEPARATOR
    return rgb


def grid_shape(count: int) -> tuple[int, int]:
    """(rows, columns) of a near-square grid, a little wider than tall."""
    columns = int(np.ceil(np.sqrt(count * 1.5))) if count else 1
    return max(1, -(-count // columns)), columns


def tile(maps: np.ndarray, limit: int = 64, columns: int | None = None) -> np.ndarray:
    """Feature maps (H, W, C) as one (rows*H, columns*W) array, each map normalized to [0, 1] on its own,
    NaN between maps; the first `limit` channels."""
    maps = normalize(maps[..., :limit])
    height, width, count = maps.shape
    rows, columns = grid_shape(count) if columns is None else (-(-count // columns), columns)
    grid = np.full((rows * (height + PAD) - PAD, columns * (width + PAD) - PAD), np.nan, dtype=np.float32)
    for c in range(count):
        r, k = divmod(c, columns)
        grid[r * (height + PAD):r * (height + PAD) + height, k * (width + PAD):k * (width + PAD) + width] = maps[..., c]
    return grid


def feature_grid(maps: np.ndarray, limit: int = 64, target: int = 480) -> np.ndarray:
    """A coloured grid of feature maps, enlarged to about `target` pixels wide."""
    grid = tile(maps, limit)
    return enlarge(colorize(grid), max(1, target // grid.shape[1]))


def filter_images(kernel: np.ndarray) -> np.ndarray:
    """A convolution kernel (kh, kw, in, out) as `out` small images (out, kh, kw, 3) in [0, 1]: the colours of
    an RGB input's filters, the mean over the input channels otherwise (grey)."""
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.shape[2] == 3:
        images = normalize(np.moveaxis(kernel, 3, 0), axis=(1, 2, 3))
    else:
        images = normalize(kernel.mean(axis=2), axis=(0, 1))
        images = np.repeat(np.moveaxis(images, 2, 0)[..., None], 3, axis=-1)
    return images


def filter_grid(kernel: np.ndarray, target: int = 480) -> np.ndarray:
    """The filters of a convolution side by side, enlarged, white between them (uint8 RGB)."""
    images = filter_images(kernel)
    count, height, width, _ = images.shape
    rows, columns = grid_shape(count)
    grid = np.full((rows * (height + PAD) - PAD, columns * (width + PAD) - PAD, 3), 255, dtype=np.uint8)
    for c in range(count):
        r, k = divmod(c, columns)
        grid[r * (height + PAD):r * (height + PAD) + height, k * (width + PAD):k * (width + PAD) + width] = \
            (images[c] * 255).round().astype(np.uint8)
    return enlarge(grid, max(1, target // grid.shape[1]))


def as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, C) with 1, 3 or 4 channels as uint8 RGB."""
    if image.shape[-1] == 1:
        return np.repeat(image, 3, axis=-1)
    return image[..., :3]


def heat(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A Grad-CAM map (h, w) in [0, 1] resized (bilinear) to (height, width)."""
    from PIL import Image

    height, width = size
    picture = Image.fromarray(np.asarray(cam, dtype=np.float32), mode="F")
    return np.clip(np.asarray(picture.resize((width, height), Image.Resampling.BILINEAR)), 0, 1)


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The image (uint8 H, W, C) with the Grad-CAM map over it in the 'jet' colours (uint8 RGB)."""
    colours = colorize(heat(cam, image.shape[:2]), "jet").astype(np.float32)
    mixed = (1 - alpha) * as_rgb(image).astype(np.float32) + alpha * colours
    return mixed.round().clip(0, 255).astype(np.uint8)
