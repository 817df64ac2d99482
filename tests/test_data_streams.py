"""npz, IDX and CSV sources larger than memory: building their cache streams the images from the files into
the cache file a chunk at a time (peak memory measured with tracemalloc, far below the decoded size), and
gives exactly the pixels, labels and errors of reading the files whole."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cnn_cli.data import cache as C
from cnn_cli.data import load_dataset, streams
from cnn_cli.data.sources import read_source
from cnn_cli.errors import DataError
from cnn_cli.resolve import config_from_dict

CHUNK = 256 * 1024  # the streams' chunk in these tests: the decoded images are 40 times as large or more


@pytest.fixture(autouse=True)
def small_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(streams, "CHUNK_BYTES", CHUNK)
    monkeypatch.setenv(C.ENV, str(tmp_path / "cache"))


def images(count: int, side: int, seed: int) -> np.ndarray:
    """Synthetic uint8 images (count, side, side): a gradient plus noise, no two alike."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 200, side * side).reshape(side, side)
    return (ramp[None] + rng.integers(0, 56, (count, side, side))).astype(np.uint8)


def write_idx(path, array: np.ndarray, magic: int, gz: bool) -> None:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    path.write_bytes(gzip.compress(data, compresslevel=1) if gz else data)


def idx_source(tmp_path, gz: bool) -> dict:
    folder = tmp_path / "idx"
    folder.mkdir()
    suffix = ".gz" if gz else ""
    for prefix, count, seed in (("train", 2000, 1), ("t10k", 500, 2)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images(count, 64, seed), 0x803, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(count, dtype=np.uint8) % 10, 0x801, gz)
    return {"source": "idx", "path": str(folder)}


def npz_source(tmp_path, compressed: bool) -> dict:
    path = tmp_path / "data.npz"
    save = np.savez_compressed if compressed else np.savez
    save(path, x_train=images(2000, 64, 1), y_train=np.arange(2000) % 10,
         x_test=images(500, 64, 2)[..., None].astype(np.int16), y_test=np.arange(500) % 10)  # int16 pixels: converted
    return {"source": "npz", "path": str(path)}


def csv_source(tmp_path) -> dict:
    files = {}
    for split, count, seed in (("train", 2400, 1), ("test", 600, 2)):
        x = images(count, 28, seed).reshape(count, -1)
        frame = pd.DataFrame(x, columns=[f"pixel{i + 1}" for i in range(784)])
        frame.insert(0, "label", np.arange(count) % 5)
        files[split] = tmp_path / f"{split}.csv"
        frame.to_csv(files[split], index=False)
        with open(files[split], "a") as handle:
            handle.write("\n\n")  # blank lines at the end are no rows
    return {"source": "csv", "train": str(files["train"]), "test": str(files["test"]), "image_shape": [28, 28, 1]}


def config(data: dict, cache: str):
    layers = [{"type": "flatten"}, {"type": "dense", "units": "num_classes", "activation": "softmax"}]
    return config_from_dict({"name": "t", "model": {"layers": layers},
                             "data": {**data, "cache": cache, "validation_split": 0.25}}, "test.yaml")


SOURCES = {"idx.gz": lambda p: idx_source(p, True), "idx": lambda p: idx_source(p, False),
           "npz": lambda p: npz_source(p, False), "npz compressed": lambda p: npz_source(p, True), "csv": csv_source}


def _traced_load(cfg):
    """(the dataset `cfg` loads, the peak of Python's traced memory while it loads)."""
    tracemalloc.start()
    try:
        dataset = load_dataset(cfg)
        return dataset, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", list(SOURCES))
def test_the_cache_build_streams_and_equals_reading_whole(kind, tmp_path, monkeypatch):
    data = SOURCES[kind](tmp_path)
    if kind == "csv":  # its chunks of a few rows (pandas makes a frame of 785 columns for each) would be slow
        monkeypatch.setattr(streams, "CHUNK_BYTES", 1024 * 1024)
    whole = read_source(config(data, "off").data)  # reading the files whole: every split in memory
    expected = np.concatenate([whole.train.x, whole.test.x])
    expected_ids = np.concatenate([whole.train.ids, whole.test.ids])
    del whole
    in_memory = load_dataset(config(data, "off"))  # not streamed (and the modules loading imports, imported)
    assert np.array_equal(in_memory.images, expected)
    del in_memory

    dataset, peak = _traced_load(config(data, "disk"))
    assert isinstance(dataset.images, np.memmap)
    assert dataset.images.dtype == np.uint8 and dataset.images.shape == expected.shape
    assert np.array_equal(np.asarray(dataset.images), expected)  # bit for bit
    assert np.array_equal(np.asarray(dataset.class_map.ids)[dataset.labels], expected_ids)
    assert len(dataset.train) + len(dataset.validation) == len(expected) * 4 // 5 == 4 * len(dataset.test)
    if kind != "csv":  # pandas' chunks of a CSV file cost a few MB whatever its size: test_csv_streams_in_bounded_memory
        assert peak < expected.nbytes / 4, f"peak {peak:,} bytes for {expected.nbytes:,} bytes of images"

    again = load_dataset(config(data, "memory"))  # read from the cache entry just built
    assert not isinstance(again.images, np.memmap) and np.array_equal(again.images, expected)


@pytest.mark.slow
def test_csv_streams_in_bounded_memory(tmp_path, monkeypatch):
    """40,000 rows of 28x28 pixels (31 MB decoded, a 110 MB file) with 2 MB chunks."""
    monkeypatch.setattr(streams, "CHUNK_BYTES", 2 * 2**20)
    x = images(40_000, 28, 3)
    frame = pd.DataFrame(x.reshape(len(x), -1), columns=[f"pixel{i + 1}" for i in range(784)])
    frame.insert(0, "label", np.arange(len(x)) % 7)
    frame.to_csv(tmp_path / "big.csv", index=False)
    del frame
    data = {"source": "csv", "train": str(tmp_path / "big.csv"), "image_shape": [28, 28, 1]}
    load_dataset(config({**csv_source(tmp_path), "test": None}, "off"))  # the modules loading imports, imported
    dataset, peak = _traced_load(config(data, "disk"))
    assert isinstance(dataset.images, np.memmap) and np.array_equal(np.asarray(dataset.images)[..., 0], x)
    assert np.array_equal(np.asarray(dataset.class_map.ids)[dataset.labels], np.arange(len(x)) % 7)
    assert peak < x.nbytes / 2, f"peak {peak:,} bytes for {x.nbytes:,} bytes of images"


def test_streamed_errors_are_the_whole_readers_errors(tmp_path):
    data = csv_source(tmp_path)
    lines = open(data["train"]).read().splitlines(keepends=True)
    lines[1500] = lines[1500].replace(",", ",x", 1)  # data row 1500, far beyond the first chunk
    open(data["train"], "w").writelines(lines)
    messages = set()
    for cache in ("off", "disk"):
        with pytest.raises(DataError) as caught:
            load_dataset(config(data, cache))
        messages.add(str(caught.value))
    (message,) = messages  # the same line either way
    assert message.startswith(f"{data['train']}: row 1500 (line 1501), column 'pixel1': not a number: 'x")

    (tmp_path / "x").mkdir()
    source = idx_source(tmp_path / "x", True)
    train = f"{source['path']}/train-images-idx3-ubyte.gz"
    raw = gzip.decompress(open(train, "rb").read())
    open(train, "wb").write(gzip.compress(raw[:-100]))  # 100 bytes short
    for cache in ("off", "disk"):
        with pytest.raises(DataError, match="truncated: the header declares 2000 x 64 x 64 = 8192000 bytes of "
                                            "images, the file holds 8191900"):
            load_dataset(config(source, cache))
    open(train, "wb").write(gzip.compress(raw)[:-30])  # the gzip stream cut
    for cache in ("off", "disk"):
        with pytest.raises(DataError, match="truncated or corrupt gzip file"):
            load_dataset(config(source, cache))
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []  # no half-built entry left

    npz = tmp_path / "bad.npz"
    np.savez(npz, x_train=images(300, 64, 1).astype(np.int16) * 2, y_train=np.arange(300) % 3)  # up to 510
    for cache in ("off", "disk"):
        with pytest.raises(DataError) as caught:
            load_dataset(config({"source": "npz", "path": str(npz)}, cache))
        assert str(caught.value) == (f"{npz}: array 'x_train': expected integer pixel values 0..255, found int16 values "
                                     f"{int(images(300, 64, 1).min()) * 2}..{int(images(300, 64, 1).max()) * 2} "
                                     "(scale to 0..255 and save as uint8)")


SIGN = Path(__file__).resolve().parent.parent / "data" / "sign_layout_sample" / "train.csv"


def sign_copy(tmp_path, tail: str = "", edit=None) -> dict:
    """data/sign_layout_sample/train.csv (720 rows), its lines changed by `edit` and `tail` appended."""
    lines = SIGN.read_text().splitlines(keepends=True)
    if edit is not None:
        edit(lines)
    path = tmp_path / "sign.csv"
    path.write_text("".join(lines) + tail)
    return {"source": "csv", "train": str(path), "image_shape": [28, 28, 1]}


def both_ways(data: dict) -> str:
    """The one error of loading `data` whole (cache off) and streamed into the cache (disk)."""
    messages = set()
    for cache in ("off", "disk"):
        with pytest.raises(DataError) as caught:
            load_dataset(config(data, cache))
        messages.add(str(caught.value))
    (message,) = messages
    return message


def test_the_csv_cache_build_parses_the_pixel_cells_once(tmp_path, monkeypatch):
    data = sign_copy(tmp_path, tail="\n,,,\n\n")  # blank lines at the end (one of empty cells): no rows
    calls = []
    chunks = streams.csv_chunks
    monkeypatch.setattr(streams, "csv_chunks", lambda *a, **k: calls.append(k.get("usecols")) or chunks(*a, **k))
    dataset = load_dataset(config(data, "disk"))
    assert calls == [["label"], None]  # the labels alone, then every cell once (`fill`)
    whole = pd.read_csv(SIGN)
    assert isinstance(dataset.images, np.memmap) and len(dataset.images) == len(whole) == 720
    assert np.array_equal(np.asarray(dataset.images).reshape(720, -1), whole.drop(columns=["label"]).to_numpy())
    assert np.array_equal(np.asarray(dataset.class_map.ids)[dataset.labels], whole["label"].to_numpy())


def test_streamed_csv_rows_without_a_label_are_the_whole_readers_errors(tmp_path):
    path = tmp_path / "sign.csv"
    # a row after the last label with pixel values, behind blank lines: the label pass cannot tell it from one
    message = both_ways(sign_copy(tmp_path, tail="\n\n" + "," * 400 + "7" + "," * 383 + "\n\n"))
    assert message == f"{path}: row 721 (line 722), column 'label': empty label cell"

    def unlabel(lines):  # every label cell emptied, the pixels kept
        lines[1:] = ["," + line.split(",", 1)[1] for line in lines[1:]]
    assert both_ways(sign_copy(tmp_path, edit=unlabel)) == f"{path}: row 1 (line 2), column 'label': empty label cell"
    blank = both_ways(sign_copy(tmp_path, edit=lambda lines: lines.__setitem__(slice(1, None), ["\n", ",,,\n"])))
    assert blank == f"{path}: no data rows, only a header line"

    def bad_and_unlabelled(lines):  # a bad cell in row 3 and a row without a label at the end: the label first
        lines[3] = lines[3].replace(",", ",x", 1)
        lines.append("," + lines[5].split(",", 1)[1])
    assert both_ways(sign_copy(tmp_path, edit=bad_and_unlabelled)) == (
        f"{path}: row 721 (line 722), column 'label': empty label cell")

    def extra_cell(lines):  # a line with one cell too many (the label pass does not see it) and an empty label
        lines[700] = lines[700].rstrip("\n") + ",0\n"
        lines[2] = "," + lines[2].split(",", 1)[1]
    assert both_ways(sign_copy(tmp_path, edit=extra_cell)) == (
        f"{path}: not a readable CSV file: Error tokenizing data. C error: Expected 785 fields in line 701, saw 786")


MNIST = SIGN.parents[1] / "mnist_sample.npz"


@pytest.mark.parametrize("gz", [False, True])
def test_idx_header_errors_read_whole_and_streamed(tmp_path, gz):
    with np.load(MNIST) as f:
        x, y = f["x_train"][:600], f["y_train"][:600]
    folder = tmp_path / "idx"
    folder.mkdir()
    suffix = ".gz" if gz else ""
    images = folder / f"train-images-idx3-ubyte{suffix}"
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", y, 0x801, gz)
    good = 0x803.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in x.shape) + x.tobytes()
    cases = {
        good[:11]: "too short for an IDX images header (11 bytes)",
        b"\x00\x00\x09\x03" + good[4:]: "wrong magic number 0x00000903, expected 0x00000803 (IDX images of bytes)",
        b"\x00\x00\x08\x02" + good[4:]: "wrong magic number 0x00000802, expected 0x00000803 (IDX images of bytes)",
        good[:-1]: "truncated: the header declares 600 x 28 x 28 = 470400 bytes of images, the file holds 470399",
        good + b"\x00" * 3: "longer than declared: the header declares 600 x 28 x 28 = 470400 bytes of images, the file "
                            "holds 470403",
    }
    if not gz:  # dimensions whose product passes 2**64 (a gzipped file's body is measured as it streams)
        cases[good[:4] + b"\x80\x00\x00\x00\x00\x10\x00\x00\x00\x10\x00\x00" + good[16:]] = (
            "truncated: the header declares 2147483648 x 1048576 x 1048576 = 2361183241434822606848 bytes of images, "
            "the file holds 470400")
    for content, expected in cases.items():
        images.write_bytes(gzip.compress(content, compresslevel=1) if gz else content)
        assert both_ways({"source": "idx", "path": str(folder)}) == f"{images}: {expected}"
    images.write_bytes(gzip.compress(good, compresslevel=1) if gz else good)
    dataset = load_dataset(config({"source": "idx", "path": str(folder)}, "disk"))
    assert isinstance(dataset.images, np.memmap) and np.array_equal(np.asarray(dataset.images)[..., 0], x)
