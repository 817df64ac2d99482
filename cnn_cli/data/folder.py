"""Folders of images, one subfolder per class: `path/<class>/*.png|jpg|jpeg`, or split folders
`path/train/<class>/...` with `path/test/...` and `path/validation/...` (or `valid/`, `val/`) beside it.

Class ids are the subfolder names, sorted naturally ("2" before "10"). Every image is converted to
grayscale (1 channel), RGB (3) or RGBA (4) and resized (bilinear) to `data.image_shape`; without it, the
first image of the first training class sets the size, and the channels (1 for a grayscale image, else 3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from natsort import natsorted

from cnn_cli.data.dataset import Raw, RawSplit
from cnn_cli.data.images import MODES, image_shape_of, read_image
from cnn_cli.errors import ConfigError, DataError

EXTENSIONS = (".png", ".jpg", ".jpeg")
SPLIT_FOLDERS = {"train": ("train",), "validation": ("validation", "valid", "val"), "test": ("test",)}


def read_folder(path: str, image_shape: tuple[int, int, int] | None = None, source: str = "<config file>") -> Raw:
    root = Path(path)
    if not root.is_dir():
        raise DataError(path, "no such folder" if not root.exists() else "not a folder")
    folders = {"train": root, "validation": None, "test": None}
    subfolders = {d.name for d in _subfolders(root)}
    known = {name for names in SPLIT_FOLDERS.values() for name in names}
    if "train" in subfolders and subfolders <= known:
        for split, names in SPLIT_FOLDERS.items():
            folders[split] = next((root / n for n in names if n in subfolders), None)
    files = {split: _class_files(folder) for split, folder in folders.items() if folder is not None}
    if image_shape is None:
        image_shape = image_shape_of(next(iter(files["train"].values()))[0])
    elif image_shape[2] not in MODES:
        raise ConfigError(source, "data.image_shape", "expected 1, 3 or 4 channels for images read from a folder", list(image_shape))
    splits = {split: _read_split(folders[split], by_class, image_shape) for split, by_class in files.items()}
    h, w, c = image_shape
    return Raw(
        train=splits["train"], validation=splits.get("validation"), test=splits.get("test"),
        origin=f"image folder {path} (resized to {h}x{w}, {MODES[c]})",
    )


def _subfolders(folder: Path) -> list[Path]:
    return natsorted((d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")), key=lambda d: d.name)


def _class_files(folder: Path) -> dict[str, list[Path]]:
    classes = _subfolders(folder)
    if not classes:
        raise DataError(str(folder), "no class subfolders; expected <folder>/<class>/*.png|jpg|jpeg")
    found = {}
    for cls in classes:
        images = natsorted((f for f in cls.iterdir() if f.is_file() and f.suffix.lower() in EXTENSIONS), key=lambda f: f.name)
        if not images:
            raise DataError(str(cls), "empty class folder: no .png, .jpg or .jpeg images")
        found[cls.name] = images
    return found


def _read_split(folder: Path, by_class: dict[str, list[Path]], shape: tuple[int, int, int]) -> RawSplit:
    h, w, c = shape
    files = [f for images in by_class.values() for f in images]
    ids = np.array([name for name, images in by_class.items() for _ in images], dtype=object)
    x = np.empty((len(files), h, w, c), dtype=np.uint8)
    for i, file in enumerate(files):
        x[i] = read_image(file, shape)
    return RawSplit(x=x, ids=ids, origin=str(folder), row=lambda i: str(files[i].relative_to(folder)))
