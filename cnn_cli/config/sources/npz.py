"""NumPy .npz archives (`source: npz`): `data.path` names the file, `data.npz_keys` its arrays; the splits
are the archive's (x_val/y_val a validation split of its own)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from cnn_cli.config.section import Section
from cnn_cli.config.sources.base import SourceSchema


class NpzKeys(Section):
    """Array names in an .npz file; the validation and test pairs are optional unless set here."""

    x_train: str = Field("x_train", description="The array of training images.")
    y_train: str = Field("y_train", description="The array of training labels (class ids, one-hot rows or multi-label/target rows).")
    x_val: str = Field("x_val", description="The array of validation images (optional: without it, validation_split splits the training arrays).")
    y_val: str = Field("y_val", description="The array of validation labels.")
    x_test: str = Field("x_test", description="The array of test images (optional: without it, test_split splits the training arrays).")
    y_test: str = Field("y_test", description="The array of test labels.")


class Npz(SourceSchema):
    name: ClassVar[str] = "npz"
    order: ClassVar[int] = 20
    splits_from: ClassVar[str] = "from data.npz_keys"
    needs: ClassVar[str] = "an .npz file"
    own_validation: ClassVar[bool] = True

    npz_keys: NpzKeys = Field(default_factory=NpzKeys, description="Names of the arrays in an .npz file.")

    @staticmethod
    def dumped(data, raw: dict) -> None:
        """`data.npz_keys` as a run's config.yaml writes it: only the keys the user gave (the reader takes a
        given key as a split that must exist)."""
        keys = data.npz_keys
        given = keys.model_dump(mode="json", include=set(keys.model_fields_set))
        if given:
            raw["npz_keys"] = given
        else:
            raw.pop("npz_keys", None)
