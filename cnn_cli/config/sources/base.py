"""The contract of a source's schema: `SourceSchema`, a pydantic section whose fields are the source's own
`data:` keys (flat beside the common ones: `npz_keys`, `label_column`, ...), and whose class variables say
what the source takes from the common keys. Nothing here reads data; the reader is `cnn_cli.data.sources`'
module of the same name."""

from __future__ import annotations

from typing import Any, ClassVar

from cnn_cli.config.section import Section
from cnn_cli.errors import ConfigError

SPLIT_KEYS = ("train", "validation", "test")


class SourceSchema(Section):
    """One kind of source. A subclass with a `name` is a source (`registry` finds it in its module); its
    fields are keys of the `data:` section (every source's keys are flat in that section, so another source
    may read them too: a key is declared once, by the source that brought it)."""

    name: ClassVar[str] = ""
    """The value of `data.source`."""
    order: ClassVar[int] = 100
    """Where the source is listed (the JSON Schema's enum, the error that names the sources); then by name."""
    split_types: ClassVar[tuple[Any, ...]] = ()
    """The forms `data.train`, `data.validation` and `data.test` take for this source; none: it refuses them."""
    splits_from: ClassVar[str] = ""
    """Where the source's splits come from, said when a split key is given to a source that refuses them."""
    needs: ClassVar[str] = ""
    """What the source must be given, in words: `data.path` (a source without split keys) or `data.train`
    or `data.path` (one with them); empty: nothing (a built-in set)."""
    own_validation: ClassVar[bool] = False
    """Whether the source may carry a validation split of its own (then a val_ metric is allowed with
    data.validation_split 0)."""
    default_test_split: ClassVar[float] = 0.0
    """`data.test_split` when the config leaves it unset and the data has no test split of its own (a folder
    of photos: a stratified fifth held out, so that a run has a test figure)."""

    @staticmethod
    def dumped(data: Any, raw: dict) -> None:
        """Adjusts `raw`, the `data:` section as a run's config.yaml writes it (every default written out), for
        keys of this source that must be written otherwise."""

    @classmethod
    def check(cls, data: Any, source: str) -> None:
        """The keys the source needs or cannot use, in the validated `data` section; the first problem raises
        ConfigError naming `source` (the config file)."""
        given = [key for key in SPLIT_KEYS if getattr(data, key) is not None]
        if not cls.split_types:
            if given:
                hint = f"; the splits come {cls.splits_from}" if cls.splits_from else ""
                raise ConfigError(source, f"data.{given[0]}", f"not used by source {data.source}{hint}",
                                  getattr(data, given[0]))
            if cls.needs and data.path is None:
                raise ConfigError(source, "data.path", f"required key is missing; expected {cls.needs} for source "
                                  f"{data.source}")
            return
        if cls.needs and data.train is None and data.path is None:
            raise ConfigError(source, "data.train", f"required key is missing; expected {cls.needs} for source "
                              f"{data.source}")
