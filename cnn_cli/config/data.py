"""The `data` section: where the images come from, how they are split, preprocessed and augmented."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from cnn_cli.config.base import Section

Dim = Annotated[int, Field(gt=0)]


class IdxPair(Section):
    images: str = Field(description="IDX file of images (gzipped or raw).")
    labels: str = Field(description="IDX file of labels (gzipped or raw).")


Split = Union[str, IdxPair]


class NpzKeys(Section):
    x_train: str = "x_train"
    y_train: str = "y_train"
    x_val: str = "x_val"
    y_val: str = "y_val"
    x_test: str = "x_test"
    y_test: str = "y_test"


class Augment(Section):
    """Random augmentation applied to training batches only (Keras preprocessing layers)."""

    rotation: float = Field(0.0, ge=0, le=180, description="Maximum rotation in degrees.")
    zoom: float = Field(0.0, ge=0, lt=1, description="Maximum zoom in or out, as a fraction.")
    width_shift: float = Field(0.0, ge=0, lt=1, description="Maximum horizontal shift, as a fraction.")
    height_shift: float = Field(0.0, ge=0, lt=1, description="Maximum vertical shift, as a fraction.")
    horizontal_flip: bool = False
    vertical_flip: bool = False


class DataConfig(Section):
    source: Literal["mnist", "fashion_mnist", "npz", "idx", "csv", "folder"] = Field(
        description="Kind of source: Keras' built-in data sets, or files of a given format."
    )
    path: str | None = Field(
        None,
        description="A file or folder: the .npz file, the image folder, or where to look first for a built-in set.",
    )
    train: Split | None = Field(None, description="Training split: a CSV file, or IDX images and labels.")
    validation: Split | None = Field(None, description="Validation split, when given as its own file.")
    test: Split | None = Field(None, description="Test split.")
    label_column: str = Field("label", description="CSV column that holds the label.")
    image_shape: tuple[Dim, Dim, Dim] | None = Field(
        None, description="Height, width, channels of the images (CSV reshape, folder resize)."
    )
    class_names: list[str] | dict[Union[int, str], str] | None = Field(
        None, description="Names of the classes: a list in index order, or a map from label id to name."
    )
    npz_keys: NpzKeys = Field(default_factory=NpzKeys)
    validation_split: float = Field(
        0.2, ge=0, lt=1, description="Fraction of the training set held out for validation when none is given."
    )
    split_seed: int = Field(42, description="random_state of scikit-learn's train_test_split.")
    stratify: bool = Field(True, description="Keep class proportions when splitting off validation.")
    subset: Annotated[int, Field(gt=0)] | None = Field(
        None, description="Use only the first N examples of each split (stratified), for smoke runs."
    )
    augment: Augment | None = None
