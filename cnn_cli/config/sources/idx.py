"""IDX files, the MNIST format (`source: idx`): `data.path` (a folder of IDX files under Keras'/Debian's
names, or one images file), or the splits as `{images: FILE, labels: FILE}` or one IDX file each."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from cnn_cli.config.section import Section
from cnn_cli.config.sources.base import SourceSchema


class IdxPair(Section):
    images: str = Field(description="IDX file of images (gzipped or raw).")
    labels: str = Field(description="IDX file of labels (gzipped or raw).")


class Idx(SourceSchema):
    name: ClassVar[str] = "idx"
    order: ClassVar[int] = 30
    split_types: ClassVar[tuple[Any, ...]] = (str, IdxPair)
    needs: ClassVar[str] = "IDX images and labels ({images: FILE, labels: FILE})"
