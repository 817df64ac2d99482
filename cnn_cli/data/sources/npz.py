"""NumPy .npz archives (never with pickles), `source: npz`: the arrays named by `data.npz_keys`.

x_train and y_train are required; the validation and test pairs are used when the archive holds them (and
are required when their keys are set in the config). `--data FILE.npz`, or a folder holding Keras'
`mnist.npz`, is this source. `NpzImages` streams a member's images into the cache.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import ClassVar

import numpy as np

from cnn_cli.config.data import DataConfig
from cnn_cli.config.sources.npz import Npz, NpzKeys
from cnn_cli.data import streams
from cnn_cli.data.arrays import as_images, as_labels
from cnn_cli.data.dataset import Raw, RawSplit
from cnn_cli.data.sources.base import DataSource, Detected, expand_user, with_source
from cnn_cli.errors import DataError
from cnn_cli.number_format import human_bytes, memory_bytes

SPLITS = (("train", "x_train", "y_train"), ("validation", "x_val", "y_val"), ("test", "x_test", "y_test"))


class NpzSource(DataSource):
    schema = Npz
    suffixes: ClassVar[tuple[str, ...]] = (".npz",)
    detect_order: ClassVar[int] = 20

    @staticmethod
    def row(position: int) -> str:
        return f"index {position}"

    def detect(self, path: Path, given: str, base: DataConfig | None) -> Detected | None:
        if path.is_dir() and (path / "mnist.npz").is_file():
            return with_source(base, self.name, path=str(path / "mnist.npz")), []
        return super().detect(path, given, base)

    def files(self, data: DataConfig, source: str) -> list[str]:
        return [expand_user(data.path)]

    def read(self, data: DataConfig, source: str, streamed: bool = False) -> Raw:
        return read_npz(expand_user(data.path), data.npz_keys, streamed=streamed)


def read_npz(path: str, keys: NpzKeys | None = None, *, origin: str | None = None, streamed: bool = False) -> Raw:
    """The splits of the archive; `streamed`: the images are read later, a chunk at a time, into the array
    they go to (`NpzImages`), and only the labels now."""

    keys = keys or NpzKeys()
    arrays = _Archive(path)
    splits: dict[str, RawSplit | None] = {}
    for split, x_field, y_field in SPLITS:
        x_key, y_key = getattr(keys, x_field), getattr(keys, y_field)
        required = split == "train" or bool({x_field, y_field} & keys.model_fields_set)
        present = [k for k in (x_key, y_key) if k in arrays.names]
        if not present and not required:
            splits[split] = None
            continue
        for key, field in ((x_key, x_field), (y_key, y_field)):
            if key not in arrays.names:
                held = ", ".join(repr(k) for k in arrays.names) or "no arrays"
                raise DataError(path, f"no array {key!r} (data.npz_keys.{field}); the file holds {held}")
        x = NpzImages(arrays, path, x_key) if streamed else as_images(arrays[x_key], path, x_key)
        y = as_labels(arrays[y_key], path, y_key)
        if len(x) != len(y):
            raise DataError(path, f"array {x_key!r} holds {len(x)} images but {y_key!r} holds {len(y)} labels")
        splits[split] = RawSplit(x=x, ids=y, origin=f"{path} [{y_key}]", row=NpzSource.row)
    return Raw(train=splits["train"], validation=splits["validation"], test=splits["test"], origin=origin or f"npz {path}")


class _Archive:
    """The arrays of an .npz file, each read (with `allow_pickle=False`) only when asked for: an array of
    Python objects is refused with the file and its key named."""

    def __init__(self, path: str):
        self.path = path
        file = Path(path)
        if not file.is_file():
            raise DataError(path, "no such file" if not file.exists() else "not a file")
        try:
            with file.open("rb") as handle:
                head = handle.read(6)
        except OSError as exc:
            raise DataError(path, f"cannot be read ({exc.strerror or exc})") from None
        pickled = head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")  # said so below
        if head != b"\x93NUMPY" and not pickled and not zipfile.is_zipfile(file):
            raise DataError(path, "not a readable .npz file (neither a zip archive of arrays nor a NumPy array; "
                            "damaged, or another format?)")
        try:
            with np.load(file, allow_pickle=False) as archive:
                if not isinstance(archive, np.lib.npyio.NpzFile):
                    raise DataError(path, "a single array (.npy); expected an .npz archive of named arrays")
                self.names = list(archive.files)
        except (AttributeError, TypeError):  # np.load gave a plain array (no context manager)
            raise DataError(path, "a single array (.npy); expected an .npz archive of named arrays") from None
        except ValueError as exc:
            if "pickle" in str(exc).lower():
                raise DataError(path, "holds Python objects (a pickle file), which are never loaded; save "
                                "numeric arrays with numpy.savez") from None
            raise DataError(path, f"not a readable .npz file ({exc})") from None
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(path, f"not a readable .npz file ({exc})") from None

    def declared(self, key: str) -> tuple[tuple[int, ...], np.dtype] | None:
        """The shape and dtype array `key`'s header declares, read without its data (None for a member that is
        not a plain .npy)."""
        try:
            with zipfile.ZipFile(self.path) as archive, archive.open(f"{key}.npy") as member:
                version = np.lib.format.read_magic(member)
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read(member)
        except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile, SyntaxError, TypeError):
            return None
        return tuple(shape), dtype

    def _check_declared(self, key: str) -> None:
        """Refuses an array whose header declares more bytes than this machine's memory, before reading it."""

        found, memory = self.declared(key), memory_bytes()
        if found is None or memory is None:
            return
        shape, dtype = found
        size = math.prod(shape) * dtype.itemsize
        if size > memory:
            raise DataError(self.path, f"array {key!r} declares shape {'x'.join(map(str, shape))} "
                            f"({human_bytes(size)}), more than this machine's memory ({human_bytes(memory)}); a "
                            "damaged file?")

    def __getitem__(self, key: str) -> np.ndarray:
        self._check_declared(key)
        try:
            with np.load(self.path, allow_pickle=False) as archive:
                return archive[key]
        except ValueError as exc:
            if "pickle" in str(exc).lower() or "object" in str(exc).lower():
                raise DataError(self.path, f"holds Python objects (pickled data) in array {key!r}, which are "
                                "never loaded; save numeric arrays") from None
            raise DataError(self.path, f"array {key!r}: not readable ({' '.join(str(exc).split())})") from None
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(self.path, f"array {key!r}: not readable ({' '.join(str(exc).split())})") from None


class NpzImages:
    """The images of one .npz member (N, H, W, C) uint8, read a chunk of rows at a time when `fill` is called."""

    def __init__(self, archive, path: str, key: str):
        self.archive, self.path, self.key = archive, path, key
        self.header = _npy_header(path, key)  # (shape, dtype) of a member that can stream, else None
        if self.header is None:  # read whole, checked as before

            self.whole = as_images(archive[key], path, key)
            self.shape = self.whole.shape
        else:
            shape, _ = self.header  # a numeric dtype (`_npy_header`); values are range-checked as they stream
            self.shape = shape if len(shape) == 4 else (*shape, 1)

    def __len__(self) -> int:
        return self.shape[0]

    def fill(self, out: np.ndarray) -> None:
        if self.header is None:
            out[...] = self.whole
            return
        shape, dtype = self.header
        row = int(np.prod(shape[1:])) * dtype.itemsize
        step = max(1, streams.CHUNK_BYTES // max(1, row))
        low, high, whole = None, None, True
        with zipfile.ZipFile(self.path) as archive, archive.open(f"{self.key}.npy") as member:
            _skip_header(member)
            for start in range(0, len(self), step):
                count = min(step, len(self) - start)
                values = np.frombuffer(member.read(count * row), dtype=dtype).reshape(count, *self.shape[1:])
                if dtype != np.uint8 and values.size:
                    low = values.min() if low is None else min(low, values.min())
                    high = values.max() if high is None else max(high, values.max())
                    whole = whole and (dtype.kind != "f" or bool(np.all(np.round(values) == values)))
                out[start:start + count] = values
        if low is not None and (low < 0 or high > 255 or not whole):
            raise DataError(self.path, f"array {self.key!r}: expected integer pixel values 0..255, found {dtype} values "
                            f"{low:g}..{high:g} (scale to 0..255 and save as uint8)")


def _npy_header(path: str, key: str):
    """(shape, dtype) of a plain C-order numeric member of rank 3 or 4, else None."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
            shape, fortran, dtype = _skip_header(member)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if fortran or dtype.hasobject or len(shape) not in (3, 4) or dtype.kind not in "biuf":
        return None
    return tuple(int(d) for d in shape), dtype


def _skip_header(member):
    version = np.lib.format.read_magic(member)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return read(member)
