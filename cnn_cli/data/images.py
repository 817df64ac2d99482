"""Reading one image file with Pillow, for training folders and for `cnn predict` alike: the
decompression-bomb guard (an image with more pixels than Pillow's limit is refused, never decoded),
conversion to grayscale, RGB or RGBA, and resizing. Every failure is one `DataError` naming the file."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from cnn_cli.errors import DataError

MODES = {1: "L", 3: "RGB", 4: "RGBA"}
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


def open_image(path: str | Path, mode: str | None = None) -> Image.Image:
    """The decoded image (converted to `mode` when given); too many pixels or an unreadable file is refused."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                return image.convert(mode) if mode else image.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(str(path), f"refused: too many pixels to be an image for a CNN ({exc})") from None
    except UnidentifiedImageError:
        raise DataError(str(path), "not a readable image (Pillow does not recognise the format)") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise DataError(str(path), f"not a readable image ({' '.join(str(exc).split()) or type(exc).__name__})") from None


def read_image(path: str | Path, shape: tuple[int, int, int]) -> np.ndarray:
    """An image file as uint8 (H, W, C) in `shape`'s size (bilinear) and channels (1, 3 or 4)."""
    height, width, channels = shape
    image = open_image(path, MODES[channels])
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8).reshape(height, width, channels)


def image_shape_of(path: str | Path) -> tuple[int, int, int]:
    """(H, W, C) of an image file: 1 channel for a grayscale image, else 3."""
    image = open_image(path)
    return image.height, image.width, 1 if image.mode in GRAY_MODES else 3
