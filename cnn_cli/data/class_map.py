"""The classes of a data set: each label id found in the training data, its index 0..K-1 and its name.

Ids are sorted numerically when they are integers and naturally (natsort: "2" before "10") when they are
strings, so Sign Language MNIST's ids 0..24 without 9 map to indices 0..23 (id 10 -> index 9).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Union

import numpy as np
import pandas as pd
from natsort import natsorted

from cnn_cli.errors import ConfigError, DataError

LabelId = Union[int, str]  # noqa: UP007 (a runtime alias)
Entry = tuple[int, LabelId, str]


def default_row(position: int) -> str:
    return f"row {position + 1}"


def label_ids(values: Any, source: str, row: Callable[[int], str] = default_row) -> np.ndarray:
    """Label values as an int64 array (integer labels, also integral floats) or an object array of strings."""
    array = np.asarray(values)
    if array.ndim != 1:
        array = array.reshape(-1)
    if array.dtype.kind in "iub":
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array)) | (np.abs(array) >= 2.0**63)  # past int64
        if bad.any():
            first = int(np.argmax(bad))
            raise DataError(source, f"{row(first)}: label {_plain(array[first])!r} is not an integer class id")
        return array.astype(np.int64)
    texts = [str(v).strip() for v in array.tolist()]
    for position, (value, text) in enumerate(zip(array.tolist(), texts)):
        if value is None or (isinstance(value, float) and np.isnan(value)) or not text:
            raise DataError(source, f"{row(position)}: the label is empty")
    return np.array(texts, dtype=object)


class ClassMap:
    """An ordered list of (index, original label id, name)."""

    def __init__(self, entries: Sequence[Entry]):
        self.entries: tuple[Entry, ...] = tuple((int(i), c, str(n)) for i, c, n in entries)
        if [e[0] for e in self.entries] != list(range(len(self.entries))):
            raise ValueError("class indices must be 0..K-1 in order")

    @classmethod
    def from_labels(cls, ids: Any, names: Sequence[str] | Mapping[Any, str] | None = None,
                    source: str = "<config file>") -> ClassMap:
        """The classes of the ids that occur in `ids`, sorted; `names` (data.class_names) is a list in index
        order or a map from id to name; a wrong length or an id the data lacks is a ConfigError."""
        array = label_ids(ids, source)
        unique = pd.unique(array).tolist()
        if array.dtype.kind == "i":
            ordered = sorted(unique)
        else:  # the data names its classes (folders, text labels): a list of names may only set their order
            ordered = natsorted(unique)
            if names is not None and not isinstance(names, Mapping):
                ordered = _named_order(ordered, names, source)
                names = None
        return cls([(i, c, n) for i, (c, n) in enumerate(zip(ordered, _names(ordered, names, source)))])

    @classmethod
    def from_json(cls, items: Sequence[Mapping[str, Any]]) -> ClassMap:
        return cls([(item["index"], item["id"], item["name"]) for item in items])

    def to_json(self) -> list[dict]:
        return [{"index": i, "id": c, "name": n} for i, c, n in self.entries]

    @property
    def ids(self) -> list[LabelId]:
        return [c for _, c, _ in self.entries]

    @property
    def names(self) -> list[str]:
        return [n for _, _, n in self.entries]

    def encode(self, ids: Any, source: str, *, row: Callable[[int], str] = default_row) -> np.ndarray:
        """Class indices (int32) of label ids; a label outside the map raises DataError naming `source` and
        the first such row (`row` turns a 0-based position into words, e.g. "row 5 (line 6)")."""
        array = label_ids(ids, source, row)
        if array.dtype.kind == "i" and all(isinstance(c, int) for c in self.ids):
            index, values = pd.Index(self.ids, dtype="int64"), array
        else:  # string ids (or a mix of kinds): compare as text
            index = pd.Index([str(c) for c in self.ids], dtype=object)
            values = np.array([str(v) for v in array.tolist()], dtype=object)
        positions = index.get_indexer(values) if len(values) else np.zeros(0, dtype=np.int64)
        missing = positions < 0
        if missing.any():
            first = int(np.argmax(missing))
            raise DataError(
                source, f"{row(first)}: label {_plain(array[first])!r} is not one of the {len(self)} classes of the "
                f"training data ({self.summary()})",
            )
        return positions.astype(np.int32)

    def summary(self, names: bool = False) -> str:
        """The ids (or names), shortened when there are many: `0, 1, 2, ..., 24`."""
        return _short(self.names if names else self.ids)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClassMap) and self.entries == other.entries

    def __repr__(self) -> str:
        return f"ClassMap({list(self.entries)!r})"


def _names(ids: list, names: Sequence[str] | Mapping[Any, str] | None, source: str) -> list[str]:
    if names is None:
        return [str(c) for c in ids]
    if isinstance(names, Mapping):
        by_text = {str(c): c for c in ids}
        found: dict[Any, str] = {}
        for key, name in names.items():
            if str(key) not in by_text:
                raise ConfigError(
                    source, "data.class_names",
                    f"expected label ids found in the training data ({_short(ids)})", key,
                )
            found[by_text[str(key)]] = str(name)
        missing = [c for c in ids if c not in found]
        if missing and all(isinstance(c, int) for c in ids):  # numeric ids name nothing themselves
            raise ConfigError(source, "data.class_names", f"expected a name for every class of the training data; "
                              f"missing for {_short(missing)}")
        return [found.get(c, str(c)) for c in ids]
    if len(names) != len(ids):
        raise ConfigError(
            source, "data.class_names",
            f"expected {len(ids)} names, one per class in the training data ({_short(ids)}), received {len(names)}",
        )
    return [str(n) for n in names]


def _named_order(ids: list, names: Sequence[str], source: str) -> list:
    """The data's own class names (`ids`) in the order of data.class_names, which must name the same classes:
    a list of names is never laid over other names by position."""
    given = [str(n) for n in names]
    by_text = {str(c): c for c in ids}
    unknown = [n for n in given if n not in by_text]
    missing = [c for c in ids if str(c) not in given]
    if unknown or missing or len(set(given)) != len(given):
        what = (f"{_short(unknown)} not among them" if unknown else
                f"{_short(missing)} missing" if missing else "a name given twice")
        raise ConfigError(source, "data.class_names", f"expected the names of the data's classes ({_short(ids)}), "
                          f"which it sets the order of; {what}")
    return [by_text[n] for n in given]


def _short(ids: list, limit: int = 12) -> str:
    texts = [str(c) for c in ids]
    return ", ".join(texts) if len(texts) <= limit else ", ".join(texts[: limit - 2]) + ", ..., " + texts[-1]


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (so messages show `9`, not `np.int64(9)`)."""
    return value.item() if isinstance(value, np.generic) else value
