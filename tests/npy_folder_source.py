"""A data source defined outside the package, as a new source is written: a folder of class subfolders of
`.npy` images (`<folder>/<class>/*.npy`, each an H x W or H x W x C array of uint8), its schema and its reader.
`tests/test_data_source_registry.py` registers it and reads and trains through it."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from cnn_cli.config.data import DataConfig
from cnn_cli.config.sources.base import SourceSchema
from cnn_cli.data.dataset import Raw, RawSplit
from cnn_cli.data.sources.base import DataSource, Detected, expand_user, with_source
from cnn_cli.errors import DataError


class NpyFolder(SourceSchema):
    """`source: npy_folder`: `data.path` is the folder; no keys of its own, no split keys."""

    name: ClassVar[str] = "npy_folder"
    needs: ClassVar[str] = "a folder of class subfolders of .npy images"
    splits_from: ClassVar[str] = "from the class subfolders of data.path"


def npy_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*/*.npy"))


class NpyFolderSource(DataSource):
    schema = NpyFolder
    detects: ClassVar[str] = "a folder of .npy images"
    detect_order: ClassVar[int] = 90  # before the image folder, which takes any folder

    def detect(self, path: Path, given: str, base: DataConfig | None) -> Detected | None:
        if path.is_dir() and npy_files(path):
            return with_source(base, self.name, path=given), []
        return None

    def files(self, data: DataConfig, source: str) -> list[str]:
        return [str(f) for f in npy_files(Path(expand_user(data.path)))]

    def read(self, data: DataConfig, source: str, streamed: bool = False) -> Raw:
        folder = Path(expand_user(data.path))
        files = npy_files(folder)
        if not files:
            raise DataError(str(folder), "no .npy images in class subfolders")
        images = []
        for file in files:
            image = np.load(file, allow_pickle=False)
            images.append(image[..., np.newaxis] if image.ndim == 2 else image)
        ids = np.array([f.parent.name for f in files], dtype=object)
        split = RawSplit(x=np.stack(images).astype(np.uint8), ids=ids, origin=str(folder),
                         row=lambda i: files[i].relative_to(folder).as_posix())
        return Raw(train=split, origin=f"npy folder {folder}")
