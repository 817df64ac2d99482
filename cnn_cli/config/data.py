"""The `data` section: where the images come from, how they are split, preprocessed and augmented.

File and folder paths are used as written: a relative path is relative to the current working directory
(where `cnn` is run), not to the config file. `~` is expanded.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from cnn_cli.config.base import Section
from cnn_cli.errors import ConfigError

Dim = Annotated[int, Field(gt=0)]


class IdxPair(Section):
    images: str = Field(description="IDX file of images (gzipped or raw).")
    labels: str = Field(description="IDX file of labels (gzipped or raw).")


Split = Union[str, IdxPair]  # noqa: UP007 (a runtime alias)


class NpzKeys(Section):
    """Array names in an .npz file; the validation and test pairs are optional unless set here."""

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
    crop_padding: Annotated[int, Field(ge=0, le=64)] = Field(
        0, description="Random crop with padding: shift each image by up to this many pixels, whole pixels, the "
        "space filled as crop_fill says.")
    crop_fill: Literal["constant", "reflect"] = Field("constant", description="constant: black (0); reflect: mirrored pixels.")
    random_erasing: float = Field(
        0.0, ge=0, le=1, description="Probability of erasing a random rectangle of an image (filled with noise).")
    erasing_scale: tuple[Annotated[float, Field(gt=0, le=1)], Annotated[float, Field(gt=0, le=1)]] = Field(
        (0.02, 0.33), description="Smallest and largest erased rectangle, as fractions of the side.")
    randaugment: Annotated[int, Field(ge=0, le=10)] = Field(
        0, description="RandAugment: this many random operations per image (0: off).")
    randaugment_factor: float = Field(0.5, gt=0, le=1, description="RandAugment's strength.")
    mixup: float = Field(0.0, ge=0, description="MixUp's alpha (0: off); mixes images and their one-hot targets.")
    cutmix: float = Field(0.0, ge=0, description="CutMix's alpha (0: off); with mixup too, each batch takes one of them.")


class DataConfig(Section):
    """Where the data comes from (`cnn_cli.data.load_dataset` reads it)."""

    source: Literal["mnist", "fashion_mnist", "npz", "idx", "csv", "folder"] = Field(
        description="Kind of source: Keras' built-in data sets, or files of a given format."
    )
    path: str | None = Field(
        None,
        description="A file or folder: the .npz file, the image folder, a folder of IDX files, the training CSV, "
        "or where to look first for a built-in set (a folder with mnist.npz or the four IDX files).",
    )
    train: Split | None = Field(
        None, description="Training split: a CSV file, or IDX images and labels (one IDX file: its partner is found by name)."
    )
    validation: Split | None = Field(None, description="Validation split, when given as its own file.")
    test: Split | None = Field(None, description="Test split, same forms as train.")
    label_column: str = Field("label", description="CSV column that holds the label.")
    image_shape: tuple[Dim, Dim, Dim] | None = Field(
        None,
        description="Height, width, channels of the images: the CSV reshape (default 28x28x1), the folder resize "
        "(default: the first image's size); for other sources, checked against the data.",
    )
    class_names: list[str] | dict[int | str, str] | None = Field(
        None, description="Names of the classes: a list in index order, or a map from label id to name."
    )
    npz_keys: NpzKeys = Field(default_factory=NpzKeys, description="Names of the arrays in an .npz file.")
    validation_split: float = Field(
        0.2, ge=0, lt=1, description="Fraction of the training set held out for validation when none is given."
    )
    test_split: float = Field(
        0.0, ge=0, lt=1, description="Fraction of the training set held out as the test set when the source has "
        "none (stratified and seeded as validation_split; both are fractions of the source's training set).",
    )
    split_seed: int = Field(42, ge=0, le=2**32 - 1, description="random_state of scikit-learn's train_test_split (0 to 2**32 - 1).")
    stratify: bool = Field(True, description="Keep class proportions when splitting off validation and test.")
    subset: Annotated[int, Field(gt=0)] | None = Field(
        None,
        description="Use only the first N examples of each split (train, validation, test; taken after the validation "
        "split, class by class in proportion, in file order), for smoke runs.",
    )
    augment: Augment | None = Field(None, description="Random augmentation of the training batches.")
    cache: Literal["auto", "memory", "disk", "off"] = Field(
        "auto",
        description="Where the decoded images are held: disk (decoded once into a cache file, memory-mapped), memory "
        "(in RAM, read from and written to the cache file), off (in RAM, no cache file), auto (disk for image "
        "folders and data sets over 1 GB decoded, else off). The cache folder is --cache-dir, CNN_CACHE_DIR or "
        "~/.cache/cnn.",
    )
    bad_images: Literal["error", "skip"] = Field(
        "error", description="An unreadable image file in a folder: stop with its name (error), or leave it out and list it (skip).",
    )
    resize: Literal["stretch", "pad", "crop"] = Field(
        "stretch",
        description="How a folder image meets image_shape: stretch it, pad it (aspect kept, black bars) or crop its "
        "centre (aspect kept).",
    )


SPLIT_KEYS = ("train", "validation", "test")


def check_data(data: DataConfig, source: str) -> None:
    """The keys each kind of source needs or cannot use; the first problem raises ConfigError."""
    if data.validation_split + data.test_split >= 1:
        raise ConfigError(source, "data.test_split", f"expected less than 1 - data.validation_split "
                          f"({1 - data.validation_split:g}): nothing would be left to train on", data.test_split)
    given = [key for key in SPLIT_KEYS if getattr(data, key) is not None]
    if data.source in ("npz", "folder", "mnist", "fashion_mnist"):
        where = {"npz": "from data.npz_keys", "folder": "from split folders data.path/train, data.path/test"}
        if given:
            hint = f"; the splits come {where[data.source]}" if data.source in where else ""
            raise ConfigError(source, f"data.{given[0]}", f"not used by source {data.source}{hint}", getattr(data, given[0]))
        if data.source in ("npz", "folder") and data.path is None:
            kind = "an .npz file" if data.source == "npz" else "a folder of class subfolders of images"
            raise ConfigError(source, "data.path", f"required key is missing; expected {kind} for source {data.source}")
        return
    if data.train is None and data.path is None:
        what = "a CSV file" if data.source == "csv" else "IDX images and labels ({images: FILE, labels: FILE})"
        raise ConfigError(source, "data.train", f"required key is missing; expected {what} for source {data.source}")
    if data.source == "csv":
        for key in given:
            if not isinstance(getattr(data, key), str):
                raise ConfigError(source, f"data.{key}", "expected a CSV file path for source csv", getattr(data, key).model_dump())
