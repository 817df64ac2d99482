"""Reading one image file with Pillow, for training folders and for `cnn predict` alike: the
decompression-bomb guard (an image with more pixels than Pillow's limit is refused, never decoded),
the EXIF orientation applied (photos come in upright), conversion to grayscale, RGB or RGBA, and resizing to
the input shape: `stretch` (the whole image, its aspect ratio changed), `pad` (the whole image, its aspect kept,
black bars) or `crop` (the centre, its aspect kept). Every failure is one `DataError` naming the file.

`load_image` gives the Pillow image at the input shape; `read_image` its pixels as a NumPy array. NumPy is
imported by `read_image` only, so that a decoding worker process (`decode_worker.py`), which writes each
image's bytes straight into the cache file, starts with Pillow alone.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

from cnn_cli.errors import DataError

MODES = {1: "L", 3: "RGB", 4: "RGBA"}
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
RESIZE_MODES = ("stretch", "pad", "crop")
ORIENTATION = 0x0112  # the EXIF tag

# Image.open warns (rather than fails) between the pixel limit and twice it; open_image refuses those itself,
# so the warning is not needed, and catching it with warnings.catch_warnings is not safe across threads.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def open_image(path: str | Path | BinaryIO, mode: str | None = None, size: tuple[int, int] | None = None,
               name: str | None = None) -> Image.Image:
    """The decoded image, upright (EXIF orientation), converted to `mode` when given; too many pixels or an
    unreadable file is refused. `size` (width, height), when given, lets a JPEG decode at a reduced scale that
    still covers it (Pillow's draft mode), much faster for large photos. `path` may be a binary file object (an
    upload held in memory), which errors call `name`. Safe to call from several threads."""
    name = name if name is not None else str(path)
    try:
        with Image.open(path) as image:
            pixels = image.width * image.height
            if Image.MAX_IMAGE_PIXELS and pixels > Image.MAX_IMAGE_PIXELS:
                raise Image.DecompressionBombError(
                    f"Image size ({pixels} pixels) exceeds limit of {Image.MAX_IMAGE_PIXELS} pixels, could be "
                    "decompression bomb DOS attack.")
            if size is not None and image.format == "JPEG" and mode in ("L", "RGB"):
                side = max(size)  # either way up: the EXIF orientation may turn the image afterwards
                image.draft(mode, (side, side))
            image.load()
            upright = _upright(image)
            return upright.convert(mode) if mode and upright.mode != mode else upright
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(name, f"refused: too many pixels to be an image for a CNN ({exc})") from None
    except UnidentifiedImageError:
        raise DataError(name, "not a readable image (Pillow does not recognise the format)") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise DataError(name, f"not a readable image ({' '.join(str(exc).split()) or type(exc).__name__})") from None


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation tag says (most files have none: returned as it is)."""
    orientation = image.getexif().get(ORIENTATION, 1) if "exif" in image.info else 1
    return ImageOps.exif_transpose(image) if orientation not in (0, 1) else image


def load_image(path: str | Path | BinaryIO, shape: tuple[int, int, int], resize: str = "stretch",
               name: str | None = None) -> Image.Image:
    """An image file (or binary file object, called `name` in errors) in `shape`'s size (bilinear, `resize`
    mode) and channels (1, 3 or 4): its `tobytes()` are the uint8 (H, W, C) pixels."""
    height, width, channels = shape
    image = open_image(path, MODES[channels], size=(width, height), name=name)
    return resized(image, (width, height), resize) if image.size != (width, height) else image


def read_image(path: str | Path | BinaryIO, shape: tuple[int, int, int], resize: str = "stretch",
               name: str | None = None):
    """An image file (or binary file object) as a uint8 (H, W, C) NumPy array (read-only) in `shape`'s size
    (`load_image`)."""
    import numpy as np

    return np.frombuffer(load_image(path, shape, resize, name).tobytes(), dtype=np.uint8).reshape(shape)


def resized(image: Image.Image, size: tuple[int, int], mode: str = "stretch") -> Image.Image:
    """`image` at `size` (width, height): stretched, padded (centred, black bars) or centre-cropped."""
    method = Image.Resampling.BILINEAR
    if mode == "pad":
        return ImageOps.pad(image, size, method=method, color=0)
    if mode == "crop":
        return ImageOps.fit(image, size, method=method)
    return image.resize(size, method)


def image_shape_of(path: str | Path) -> tuple[int, int, int]:
    """(H, W, C) of an image file: 1 channel for a grayscale image, else 3."""
    image = open_image(path)
    return image.height, image.width, 1 if image.mode in GRAY_MODES else 3
