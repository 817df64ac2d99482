"""Folders of images, one subfolder per class (`source: folder`), or split folders path/train, path/test
(and path/validation: a validation split of its own) beside each other."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from cnn_cli.config.sources.base import SourceSchema


class Folder(SourceSchema):
    name: ClassVar[str] = "folder"
    order: ClassVar[int] = 50
    splits_from: ClassVar[str] = "from split folders data.path/train, data.path/test"
    needs: ClassVar[str] = "a folder of class subfolders of images"
    own_validation: ClassVar[bool] = True
    default_test_split: ClassVar[float] = 0.2

    bad_images: Literal["error", "skip"] = Field(
        "error", description="An unreadable image file in a folder: stop with its name (error), or leave it out and list it (skip).",
    )
    resize: Literal["stretch", "pad", "crop"] = Field(
        "stretch",
        description="How a folder image meets image_shape: stretch it, pad it (aspect kept, black bars) or crop its "
        "centre (aspect kept).",
    )
