"""Reading the source a `data:` section names: its checks, then its reader's store (`read_store`) or splits
(`read_source`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cnn_cli.config.data import check_data
from cnn_cli.data.dataset import Raw
from cnn_cli.data.sources import registry
from cnn_cli.data.store import Store

if TYPE_CHECKING:
    from cnn_cli.config.data import DataConfig


def read_store(data: DataConfig, source: str = "<config file>", check: Callable[[Raw], None] | None = None) -> Store:
    """The store of the data section's source; `check(raw)` validates what a reader gave before it is kept."""
    check_data(data, source)
    return registry.lookup(data.source).store(data, source, check)


def read_source(data: DataConfig, source: str = "<config file>", streamed: bool = False) -> Raw:
    """The source's splits; `streamed` (npz, CSV, IDX): their images are read later, a chunk at a time, into
    the array they go to (`Store.from_raw`), never whole on their own."""
    check_data(data, source)
    return registry.lookup(data.source).read(data, source, streamed=streamed)
