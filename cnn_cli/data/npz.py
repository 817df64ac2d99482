"""NumPy .npz archives (never with pickles): the arrays named by `data.npz_keys`.

x_train and y_train are required; the validation and test pairs are used when the archive holds them (and
are required when their keys are set in the config).
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from cnn_cli.config.data import NpzKeys
from cnn_cli.data.arrays import as_images, as_labels
from cnn_cli.data.dataset import Raw, RawSplit
from cnn_cli.errors import DataError

SPLITS = (("train", "x_train", "y_train"), ("validation", "x_val", "y_val"), ("test", "x_test", "y_test"))


def read_npz(path: str, keys: NpzKeys | None = None, *, origin: str | None = None, streamed: bool = False) -> Raw:
    """The splits of the archive; `streamed`: the images are read later, a chunk at a time, into the array
    they go to (`streams.NpzImages`), and only the labels now."""
    from cnn_cli.data.streams import NpzImages

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
        splits[split] = RawSplit(x=x, ids=y, origin=f"{path} [{y_key}]", row=lambda i: f"index {i}")
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
        if head != b"\x93NUMPY" and not zipfile.is_zipfile(file):
            raise DataError(path, "not an .npz file (neither a zip archive of arrays nor a NumPy array; damaged, or "
                            "another format?)")
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
        from cnn_cli.numbers import human_bytes, memory_bytes

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
