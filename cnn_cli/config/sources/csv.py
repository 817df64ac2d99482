"""CSV files in the Sign Language MNIST layout (`source: csv`): the training split is `data.train` (or
`data.path`), the others `data.validation` and `data.test`, each a file; `data.label_column` names the
label's column, every other column is a pixel."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from cnn_cli.config.sources.base import SourceSchema
from cnn_cli.errors import ConfigError


class Csv(SourceSchema):
    name: ClassVar[str] = "csv"
    order: ClassVar[int] = 40
    split_types: ClassVar[tuple[Any, ...]] = (str,)
    needs: ClassVar[str] = "a CSV file"

    label_column: str = Field("label", description="CSV column that holds the label.")

    @classmethod
    def check(cls, data: Any, source: str) -> None:
        super().check(data, source)
        for key in ("train", "validation", "test"):
            value = getattr(data, key)
            if value is not None and not isinstance(value, str):
                raise ConfigError(source, f"data.{key}", "expected a CSV file path for source csv", value.model_dump())
