"""IDX files (the MNIST format), gzipped or raw, `source: idx`: reading with header checks, and finding
image/label pairs. `--data` of an IDX file (its partner found by name; a `train-` pair also takes the `t10k-`
pair beside it as the test split), or of a folder of IDX files under Keras'/Debian's names, is this source.
The header checks and the file errors (`header_dims`, `check_body`, `readable`, `gzip_guarded`) are the ones
of both readers: `read_idx` (a whole file) and `IdxImages` (images streamed into the cache).

An IDX file starts with a magic number (0x00000803 for unsigned-byte images N x H x W, 0x00000801 for
unsigned-byte labels N), then one big-endian int32 per dimension, then the data, row-major. A labels file may
also hold rows, N x L (0x00000802: several labels per image, multi-hot, or several targets), and numbers of
the format's other types (0x09 signed bytes, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64, big-endian:
a regression's targets); images are unsigned bytes only.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import zlib
from pathlib import Path
from typing import ClassVar

import numpy as np

from cnn_cli.config.data import DataConfig
from cnn_cli.config.sources.idx import Idx, IdxPair
from cnn_cli.data import streams
from cnn_cli.data.arrays import as_labels
from cnn_cli.data.dataset import Raw, RawSplit
from cnn_cli.data.sources.base import DataSource, Detected, expand_user, with_source
from cnn_cli.errors import ConfigError, DataError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
PREFIXES = {"train": ("train",), "test": ("t10k", "test")}



def idx_row(position: int) -> str:
    return f"item {position + 1}"


class IdxSource(DataSource):
    schema = Idx
    detects: ClassVar[str] = "IDX files"
    detect_order: ClassVar[int] = 10
    row = staticmethod(idx_row)

    def detect(self, path: Path, given: str, base: DataConfig | None) -> Detected | None:
        if path.is_dir():
            pairs = find_pairs(path)
            return (self._section(base, pairs["train"], pairs.get("test")), []) if "train" in pairs else None
        if not is_idx_name(path):
            return None
        pair = pair_of(path)
        if pair is None:
            raise DataError(given, "an IDX file whose partner (images <-> labels, idx3 <-> idx1) is not beside it; "
                            "give the folder that holds both")
        test = find_pairs(path.parent).get("test") if path.name.startswith("train") else None
        return self._section(base, pair, test), []

    def _section(self, base: DataConfig | None, train: tuple[Path, Path], test: tuple[Path, Path] | None) -> DataConfig:
        def pair(files):
            return IdxPair(images=str(files[0]), labels=str(files[1])) if files else None

        return with_source(base, self.name, train=pair(train), test=pair(test))

    def files(self, data: DataConfig, source: str) -> list[str]:
        try:
            pairs = split_pairs(data, source)
        except (DataError, ConfigError):
            return []
        return [str(f) for pair in pairs.values() for f in pair]

    def read(self, data: DataConfig, source: str, streamed: bool = False) -> Raw:
        pairs = split_pairs(data, source)
        splits = {}
        for split, (images, labels) in pairs.items():
            x, y = read_pair(images, labels, streamed)
            splits[split] = RawSplit(x=x, ids=y, origin=str(labels), row=idx_row)
        named = ", ".join(f"{split} {images}" for split, (images, _) in pairs.items())
        return Raw(train=splits["train"], validation=splits.get("validation"), test=splits.get("test"),
                   origin=f"idx: {named}")


def split_pairs(data: DataConfig, source: str) -> dict[str, tuple[Path, Path]]:
    """The (images, labels) files of each split the section names."""
    path = expand_user(data.path) if data.path else None
    pairs: dict[str, tuple[Path, Path]] = {}
    if data.train is None and Path(path).is_file():
        pairs["train"] = _pair(path, "data.path", source)
    elif data.train is None:
        if not Path(path).is_dir():
            raise DataError(path, "no such file or folder")
        pairs = find_pairs(Path(path))
        if "train" not in pairs:
            raise DataError(path, "no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] in this folder")
    for split in ("train", "validation", "test"):
        value = getattr(data, split)
        if value is not None:
            pairs[split] = _pair(value, f"data.{split}", source)
    return pairs


def _pair(value: str | IdxPair, key: str, source: str) -> tuple[Path, Path]:
    if isinstance(value, IdxPair):
        return Path(expand_user(value.images)), Path(expand_user(value.labels))
    file = Path(expand_user(value))
    if not file.is_file():
        raise DataError(value, "no such file" if not file.exists() else "not a file")
    pair = pair_of(file)
    if pair is None:
        raise ConfigError(
            source, key, "expected {images: FILE, labels: FILE}, or one IDX file whose partner has the same name "
            "with images/labels and idx3/idx1 swapped, beside it", value,
        )
    return pair

KINDS = {"images": (IMAGES_MAGIC, 3), "labels": (LABELS_MAGIC, 1)}  # kind: (magic number, dimensions)


def header_size(kind: str) -> int:
    """Bytes of the header of an IDX file of `kind` ("images" or "labels"): the magic number, one int32 a dimension."""
    return 4 + 4 * KINDS[kind][1]


def header_dims(head: bytes, path: Path, kind: str) -> list[int]:
    """The dimensions the header declares; `head` is the file's first `header_size(kind)` bytes (fewer when the
    file is shorter). The magic number says unsigned bytes (type code 0x08) and the dimensions of `kind`."""
    magic = KINDS[kind][0]
    if len(head) < header_size(kind):
        raise DataError(str(path), f"too short for an IDX {kind} header ({len(head)} bytes)")
    found = int.from_bytes(head[:4], "big")
    if found != magic:
        raise DataError(str(path), f"wrong magic number 0x{found:08X}, expected 0x{magic:08X} (IDX {kind} of bytes)")
    return [int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(KINDS[kind][1])]


def check_body(path: Path, kind: str, dims: list[int], body: int) -> None:
    """The file holds `body` bytes after its header: exactly the bytes its dimensions declare."""
    declared = math.prod(dims)  # Python's integers: a header's dimensions may multiply past 2**63
    if body != declared:
        shape = " x ".join(str(d) for d in dims)
        state = "truncated" if body < declared else "longer than declared"
        raise DataError(str(path), f"{state}: the header declares {shape} = {declared} bytes of {kind}, the file holds {body}")


def gzip_guarded(read, path: Path):
    """`read()`, its gzip errors (a cut or damaged stream) as one line naming the file."""
    try:
        return read()
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(str(path), f"truncated or corrupt gzip file ({exc})") from None


@contextlib.contextmanager
def readable(path: Path):
    """Opening or reading `path`: a missing or unreadable file as one line naming it."""
    try:
        yield
    except FileNotFoundError:
        raise DataError(str(path), "no such file") from None
    except OSError as exc:
        raise DataError(str(path), f"cannot read: {exc.strerror or exc}") from None


def read_bytes(path: Path) -> bytes:
    """The file's bytes, un-gzipped when it starts with gzip's magic bytes (whatever its name)."""
    with readable(path):
        data = path.read_bytes()
    if data[:2] != b"\x1f\x8b":
        return data
    return gzip_guarded(lambda: gzip.decompress(data), path)


LABEL_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
"""The IDX type codes a labels file may have, and their (big-endian) NumPy types."""


def read_labels(path: Path) -> np.ndarray:
    """Labels (N,) or rows of labels or targets (N, L), in the file's type (native byte order)."""
    data = read_bytes(path)
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in LABEL_TYPES or data[3] not in (1, 2):
        if len(data) >= 8 and int.from_bytes(data[:4], "big") != LABELS_MAGIC:
            found = int.from_bytes(data[:4], "big")
            raise DataError(str(path), f"wrong magic number 0x{found:08X}, expected 0x{LABELS_MAGIC:08X} (IDX labels of "
                            "bytes; 0x00000802 for rows of labels, other type codes for numbers)")
        return read_idx(path, "labels")  # says what is wrong with it
    dtype, ndim = np.dtype(LABEL_TYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(str(path), f"too short for an IDX labels header ({len(data)} bytes)")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = len(data) - header
    declared = math.prod(dims) * dtype.itemsize
    if body != declared:
        state = "truncated" if body < declared else "longer than declared"
        raise DataError(str(path), f"{state}: the header declares {' x '.join(map(str, dims))} labels of "
                        f"{dtype.itemsize} bytes = {declared} bytes, the file holds {body}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: Path, kind: str) -> np.ndarray:
    """Images (N, H, W) or labels (N,) as uint8; `kind` is "images" or "labels"."""
    data = read_bytes(path)
    header = header_size(kind)
    dims = header_dims(data[:header], path, kind)
    check_body(path, kind, dims, len(data) - header)
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_pair(images: Path, labels: Path, streamed: bool = False) -> tuple:
    """Images (N, H, W, 1) and labels (N,) of one split (or rows (N, L), as an .npz's: `arrays.as_labels`); the
    counts must agree. `streamed`: the images are read later, a chunk at a time, into the array they go to
    (`IdxImages`), and only the labels now."""

    x = IdxImages(images) if streamed else read_idx(images, "images")[..., np.newaxis]
    y = as_labels(read_labels(labels), str(labels), "labels")
    if len(x) != len(y):
        raise DataError(str(images), f"{len(x)} images but {labels} holds {len(y)} labels")
    return x, y


def _candidates(folder: Path, prefix: str, kind: str) -> list[Path]:
    stems = ["images-idx3-ubyte"] if kind == "images" else ["labels-idx1-ubyte", "labels-idx2-ubyte"]
    names = [name for stem in stems for name in (f"{prefix}-{stem}", f"{prefix}-{stem.replace('-idx', '.idx')}")]
    return [folder / (name + ext) for name in names for ext in (".gz", "")]


def find_file(folder: Path, prefix: str, kind: str) -> Path | None:
    return next((p for p in _candidates(folder, prefix, kind) if p.is_file()), None)


def find_pairs(folder: Path) -> dict[str, tuple[Path, Path]]:
    """The splits ("train", "test") whose images and labels are both in `folder`, under Keras'/Debian's names
    (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...)."""
    pairs = {}
    for split, prefixes in PREFIXES.items():
        for prefix in prefixes:
            images, labels = find_file(folder, prefix, "images"), find_file(folder, prefix, "labels")
            if images and labels:
                pairs[split] = (images, labels)
                break
    return pairs


def is_idx_name(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".gz", "-ubyte")) and any(tag in name for tag in ("idx1", "idx2", "idx3"))


def pair_of(path: Path) -> tuple[Path, Path] | None:
    """(images, labels) for one file of a pair, by swapping images/labels and idx3/idx1 (or idx2, rows of
    labels) in its name."""
    name = path.name
    if "images" in name and "idx3" in name:
        swapped, is_images = [name.replace("images", "labels").replace("idx3", tag) for tag in ("idx1", "idx2")], True
    elif "labels" in name and ("idx1" in name or "idx2" in name):
        swapped, is_images = [name.replace("labels", "images").replace("idx1", "idx3").replace("idx2", "idx3")], False
    else:
        return None
    stems = [other.removesuffix(".gz") for other in swapped]
    partner = next((p for stem in stems for p in (path.with_name(stem + ".gz"), path.with_name(stem)) if p.is_file()),
                   None)
    if partner is None:
        return None
    return (path, partner) if is_images else (partner, path)


class IdxImages:
    """The images of an IDX file (N, H, W, 1) uint8, read when `fill` is called; the header checked as
    `idx.read_idx` checks it (`idx.header_dims`, `idx.check_body`)."""

    def __init__(self, path: Path):
        self.path = path
        with self._open() as file:
            head = gzip_guarded(lambda: file.read(header_size("images")), path)
        self.dims = header_dims(head, path, "images")
        self.shape = (*self.dims, 1)
        if not self.gzipped:  # the body's size is known now
            check_body(path, "images", self.dims, path.stat().st_size - header_size("images"))

    def __len__(self) -> int:
        return self.dims[0]

    def _open(self):
        with readable(self.path):
            with open(self.path, "rb") as probe:
                self.gzipped = probe.read(2) == b"\x1f\x8b"
            return gzip.open(self.path, "rb") if self.gzipped else open(self.path, "rb")

    def fill(self, out: np.ndarray) -> None:
        flat = out.reshape(-1)  # a contiguous part of the target: a view
        got = 0
        with self._open() as file:
            gzip_guarded(lambda: file.read(header_size("images")), self.path)
            while got < flat.size:
                count = gzip_guarded(lambda part=flat[got:got + streams.CHUNK_BYTES]: file.readinto(memoryview(part)), self.path)
                if not count:
                    break
                got += count
            extra = 0
            while chunk := gzip_guarded(lambda: file.read(streams.CHUNK_BYTES), self.path):
                extra += len(chunk)
        check_body(self.path, "images", self.dims, got + extra)
