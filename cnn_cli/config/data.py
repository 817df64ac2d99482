"""The `data` section: where the images come from, how they are split, preprocessed and augmented.

File and folder paths are used as written: a relative path is relative to the current working directory
(where `cnn` is run), not to the config file. `~` is expanded.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, create_model, model_validator
from pydantic_core import PydanticCustomError, core_schema

from cnn_cli.config.section import Section
from cnn_cli.config.sources import registry as sources
from cnn_cli.config.sources.base import SourceSchema
from cnn_cli.errors import ConfigError

Dim = Annotated[int, Field(gt=0)]
Split = sources.split_type()  # the forms the sources' split keys take (a file, IDX images and labels)


class _SourceName:
    """`data.source`: the name of a registered source, looked up when a config is validated (so a source
    registered later is known); the JSON Schema lists the sources registered when it is made."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source_type: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(_registered)

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict:
        return {"enum": sources.names(), "type": "string"}


def _registered(value: Any) -> str:
    if isinstance(value, str) and sources.lookup(value) is not None:
        return value
    names = [repr(name) for name in sources.names()]
    expected = " or ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0]
    raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})


SourceName = Annotated[str, _SourceName]


class Augment(Section):
    """Random augmentation applied to training batches only (Keras preprocessing layers)."""

    rotation: float = Field(0.0, ge=0, le=180, description="Maximum rotation in degrees.")
    zoom: float = Field(0.0, ge=0, lt=1, description="Maximum zoom in or out, as a fraction.")
    width_shift: float = Field(0.0, ge=0, lt=1, description="Maximum horizontal shift, as a fraction.")
    height_shift: float = Field(0.0, ge=0, lt=1, description="Maximum vertical shift, as a fraction.")
    horizontal_flip: bool = Field(False, description="Mirror each training image left to right with probability 0.5.")
    vertical_flip: bool = Field(False, description="Mirror each training image top to bottom with probability 0.5.")
    crop_padding: Annotated[int, Field(ge=0, le=64)] = Field(
        0, description="Random crop with padding: shift each image by up to this many pixels, whole pixels, the "
        "space filled as crop_fill says.")
    crop_fill: Literal["constant", "reflect"] = Field("constant", description="constant: black (0); reflect: mirrored pixels.")
    random_erasing: float = Field(
        0.0, ge=0, le=1, description="Probability of erasing a random rectangle of an image (filled with noise).")
    erasing_scale: tuple[Annotated[float, Field(gt=0, le=1)], Annotated[float, Field(gt=0, le=1)]] = Field(
        (0.02, 0.33), description="Smallest and largest erased rectangle, as fractions of the side.")
    randaugment: Annotated[int, Field(ge=0, le=10)] = Field(
        0, description="RandAugment: this many random operations per batch (0: off), each of a random strength per "
        "image, from Keras' own layers with the paper's bounded magnitudes (rotation up to 30 degrees, shear 0.3, "
        "translation 0.3 of the side at strength 1).")
    randaugment_factor: float = Field(0.5, gt=0, le=1, description="RandAugment's strength: the magnitudes' fraction "
                                      "of their bounds.")
    brightness: float = Field(0.0, ge=0, le=1, description="Random brightness: add up to this fraction of the pixel "
                              "range, up or down (keras.layers.RandomBrightness).")
    contrast: float = Field(0.0, ge=0, le=1, description="Random contrast: scale the difference from the mean by "
                            "1 +- up to this (keras.layers.RandomContrast).")
    saturation: float = Field(0.0, ge=0, lt=1, description="Random saturation: scale it by 1 +- up to this "
                              "(keras.layers.RandomSaturation); three-channel images only.")
    hue: float = Field(0.0, ge=0, le=1, description="Random hue shift: up to this fraction of half the colour wheel "
                       "(keras.layers.RandomHue); three-channel images only.")
    grayscale: float = Field(0.0, ge=0, le=1, description="Probability of turning an image grey, its three channels "
                             "kept (keras.layers.RandomGrayscale); three-channel images only.")
    mixup: float = Field(0.0, ge=0, description="MixUp's alpha (0: off); mixes images and their one-hot targets.")
    cutmix: float = Field(0.0, ge=0, description="CutMix's alpha (0: off); with mixup too, each batch takes one of them.")


class Fold(Section):
    """One fold of a k-fold cross-validation of the training split (`cnn compare --folds K`, `cnn tune --folds K`
    set it for each run): the training split cut into `folds` parts (stratified when `data.stratify`, shuffled
    with `data.split_seed`), part `number` the validation split and the others the training split."""

    folds: Annotated[int, Field(ge=2)] = Field(description="How many parts the training split is cut into.")
    number: Annotated[int, Field(ge=1)] = Field(description="The part that validates, 1 to folds.")

    @model_validator(mode="after")
    def _within(self):
        if self.number > self.folds:
            raise ValueError(f"number: expected 1 to {self.folds} (folds)")
        return self


class DataKeys(Section):
    """The keys every source reads; each source's own keys are added from its schema (`DataConfig`)."""

    source: SourceName = Field(
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
    image_shape: tuple[Dim, Dim, Dim] | None = Field(
        None,
        description="Height, width, channels of the images: the CSV reshape (default 28x28x1), the folder resize "
        "(default: the first image's size); for other sources, checked against the data.",
    )
    class_names: list[str] | dict[int | str, str] | None = Field(
        None, description="Names of the classes: a list in index order, or a map from label id to name."
    )
    validation_split: float = Field(
        0.2, ge=0, lt=1, description="Fraction of the training set held out for validation when none is given."
    )
    test_split: float | None = Field(
        None, ge=0, lt=1, description="Fraction of the training set held out as the test set when the source has "
        "none (stratified and seeded as validation_split; both are fractions of the source's training set). Unset: "
        "0.2 for a folder of images without a test folder, else 0 (0: no test set).",
    )
    split_seed: int = Field(42, ge=0, le=2**32 - 1, description="random_state of scikit-learn's train_test_split (0 to 2**32 - 1).")
    stratify: bool = Field(True, description="Keep class proportions when splitting off validation and test.")
    fold: Fold | None = Field(
        None, description="k-fold cross-validation: the validation split is one part of the training split (taken "
        "after the subset), which replaces data.validation_split and a source's own validation split.")
    subset: Annotated[int, Field(gt=0)] | None = Field(
        None,
        description="Use only the first N examples of each split (train, validation, test; taken after the validation "
        "split, class by class in proportion, in file order), for smoke runs.",
    )
    augment: Augment | None = Field(None, description="Random augmentation of the training batches.")
    sampling: Literal["balanced", "sqrt"] | None = Field(
        None, description="How each epoch's training batches are drawn (classification, multilabel): balanced (every "
        "class equally often; multilabel: an example by its rarest label), sqrt (a class in proportion to the square "
        "root of its count), drawn with replacement, seeded per epoch; the epoch keeps its length. Not with "
        "train.class_weight (they would count the imbalance twice).")
    flip_invariant: bool = Field(
        False, description="regression: the targets stay the same when an image is mirrored, so flip augmentation "
        "and flip TTA are allowed (a rotation angle, a position or a direction changes under a flip).")
    cache: Literal["auto", "memory", "disk", "off"] = Field(
        "auto",
        description="Where the decoded images are held: disk (decoded once into a cache file, memory-mapped), memory "
        "(in RAM, read from and written to the cache file), off (in RAM, no cache file), auto (disk for image "
        "folders and data sets over 1 GB decoded, else off). The cache folder is --cache-dir, CNN_CACHE_DIR or "
        "~/.cache/cnn.",
    )


DataConfig = create_model(
    "DataConfig", __base__=DataKeys, __module__=__name__, __doc__=(
        "Where the data comes from (`cnn_cli.data.load_dataset` reads it)."), **sources.source_fields())
"""The `data:` section: the common keys and every registered source's own (`cnn_cli.config.sources`)."""

SPLIT_KEYS = ("train", "validation", "test")


def check_data(data: DataConfig, source: str) -> None:
    """The keys each kind of source needs or cannot use; the first problem raises ConfigError."""
    if data.test_split is not None and data.validation_split + data.test_split >= 1:
        raise ConfigError(source, "data.test_split", f"expected less than 1 - data.validation_split "
                          f"({1 - data.validation_split:g}): nothing would be left to train on", data.test_split)
    sources.lookup(data.source).check(data, source)


def test_fraction(data: DataConfig, has_test: bool) -> tuple[float, bool]:
    """The test split to take off train, and whether it is the source's default (`data.test_split` unset): the
    config's, else the source's `default_test_split` when the data has no test split of its own, else 0."""
    if data.test_split is not None:
        return data.test_split, False
    if has_test:
        return 0.0, False
    fraction = sources.lookup(data.source).default_test_split
    if fraction and data.validation_split + fraction >= 1:
        return 0.0, False
    return fraction, fraction > 0


def source_schema(data: DataConfig) -> type[SourceSchema]:
    """The schema of the section's source (its rules: `own_validation`, ...)."""
    return sources.lookup(data.source)
