"""The decoded-image cache and the store: an image folder is decoded once (in parallel) into one cache file,
a second run reads no image file, a changed image or a damaged cache file makes it decode again, a cache
that cannot be written falls back to memory with one warning line, unreadable files can be skipped and are
listed, and the splits are index arrays into the one array of images."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnn_cli.data import cache as C
from cnn_cli.data import decode, load_dataset
from cnn_cli.data.decode import Progress, decode_into
from cnn_cli.data.images import read_image
from cnn_cli.data.pipeline import TrainingBatches
from cnn_cli.errors import DataError
from cnn_cli.resolve import config_from_dict

SAMPLE = "data/fashion_mnist_sample.npz"
PER_CLASS = 12
CLASSES = (0, 1, 7)  # T-shirt, trouser, sneaker


@pytest.fixture
def folder(tmp_path) -> Path:
    """tmp/images/<class>/<n>.png: 12 Fashion-MNIST images of each of 3 classes, upscaled to 32x32 RGB."""
    raw = np.load(SAMPLE)
    root = tmp_path / "images"
    for cls in CLASSES:
        (root / str(cls)).mkdir(parents=True)
        for n, image in enumerate(raw["x_train"][raw["y_train"] == cls][:PER_CLASS]):
            Image.fromarray(image).convert("RGB").resize((32, 32)).save(root / str(cls) / f"{n}.png")
    return root


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv(C.ENV, str(path))
    return path


def config(path, **data):
    layers = [{"type": "flatten"}, {"type": "dense", "units": "num_classes", "activation": "softmax"}]
    return config_from_dict({"name": "t", "model": {"layers": layers},
                             "data": {"source": "folder", "path": str(path), "validation_split": 0.25,
                                      "test_split": 0, **data}},
                            "test.yaml")


class Decodes:
    """Counts the image files decoded (every decode goes through decode.load_image)."""

    def __init__(self, monkeypatch):
        self.files: list[str] = []
        real = decode.load_image

        def spy(path, *args):
            self.files.append(str(path))
            return real(path, *args)

        monkeypatch.setattr(decode, "load_image", spy)


def entries(cache_dir: Path) -> list[Path]:
    return sorted(p for p in cache_dir.iterdir() if p.is_dir()) if cache_dir.is_dir() else []


def test_second_run_reads_no_image_file(folder, cache_dir, monkeypatch, capsys):
    decodes = Decodes(monkeypatch)
    first = load_dataset(config(folder, cache="disk"))
    assert len(decodes.files) == 3 * PER_CLASS
    assert isinstance(first.images, np.memmap) and first.images.shape == (36, 32, 32, 3)
    (entry,) = entries(cache_dir)
    assert (entry / "images.npy").stat().st_size == 36 * 32 * 32 * 3 + 128  # the .npy header, then the pixels
    assert "Cached 36 images" in capsys.readouterr().out

    def no_decoding(*args, **kwargs):
        raise AssertionError("an image file was opened")

    monkeypatch.setattr("PIL.Image.open", no_decoding)
    second = load_dataset(config(folder, cache="disk"))
    assert len(decodes.files) == 3 * PER_CLASS  # nothing more decoded
    assert np.array_equal(np.asarray(second.images), np.asarray(first.images))
    assert np.array_equal(second.train, first.train) and np.array_equal(second.labels, first.labels)
    assert second.class_map.ids == ["0", "1", "7"]
    monkeypatch.undo()
    direct = read_image(folder / "7" / "3.png", (32, 32, 3))
    position = second.images.shape[0] - PER_CLASS + 3  # class 7 is the last, its files in natural order
    assert np.array_equal(second.images[position], direct)


def test_changed_image_rebuilds_the_cache(folder, cache_dir, monkeypatch):
    load_dataset(config(folder, cache="disk"))
    changed = folder / "1" / "5.png"
    Image.new("RGB", (32, 32), (200, 10, 10)).save(changed)
    os.utime(changed, ns=(1, 10**18))  # another mtime whatever the clock's resolution
    decodes = Decodes(monkeypatch)
    again = load_dataset(config(folder, cache="disk"))
    assert len(decodes.files) == 3 * PER_CLASS
    assert again.images[PER_CLASS + 5].tolist()[0][0] == [200, 10, 10]
    (folder / "7" / "new.png").write_bytes(changed.read_bytes())  # an added file: another key as well
    assert len(load_dataset(config(folder, cache="disk")).images) == 3 * PER_CLASS + 1


def test_truncated_cache_file_is_rebuilt(folder, cache_dir, monkeypatch, capsys):
    first = np.asarray(load_dataset(config(folder, cache="disk")).images).copy()
    (entry,) = entries(cache_dir)
    images = entry / "images.npy"
    os.truncate(images, images.stat().st_size - 1000)
    decodes = Decodes(monkeypatch)
    rebuilt = load_dataset(config(folder, cache="disk"))
    assert len(decodes.files) == 3 * PER_CLASS
    assert np.array_equal(np.asarray(rebuilt.images), first)
    assert f"{entry}: damaged cache entry; rebuilding it" in capsys.readouterr().err
    (entry / "meta.json").write_text("{not json")  # a damaged sidecar is not trusted either
    assert np.array_equal(np.asarray(load_dataset(config(folder, cache="disk")).images), first)
    assert len(decodes.files) == 6 * PER_CLASS


def test_half_written_entry_is_not_used(folder, cache_dir, monkeypatch):
    load_dataset(config(folder, cache="disk"))
    (entry,) = entries(cache_dir)
    (entry / "meta.json").unlink()  # killed between writing the images and committing the sidecar
    decodes = Decodes(monkeypatch)
    load_dataset(config(folder, cache="disk"))
    assert len(decodes.files) == 3 * PER_CLASS and (entry / "meta.json").is_file()


def test_full_disk_falls_back_to_memory(folder, cache_dir, monkeypatch, capsys):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    data = load_dataset(config(folder, cache="disk"))
    assert not isinstance(data.images, np.memmap) and data.images.shape == (36, 32, 32, 3)
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Warning")]
    assert warnings == [f"Warning: {cache_dir}: cannot write the image cache (No space left on device); "
                        "keeping the images in memory instead"]
    assert [p.name for p in cache_dir.rglob("*") if p.is_file()] == []  # no half file left behind


def test_unwritable_cache_folder_falls_back_to_memory(folder, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(C.ENV, str(blocker))
    data = load_dataset(config(folder, cache="disk"))
    assert not isinstance(data.images, np.memmap) and len(data.images) == 36
    err = capsys.readouterr().err
    assert err.count("Warning:") == 1 and "keeping the images in memory instead" in err


def test_cache_off_and_memory(folder, cache_dir):
    off = load_dataset(config(folder, cache="off"))
    assert not isinstance(off.images, np.memmap) and entries(cache_dir) == []
    memory = load_dataset(config(folder, cache="memory"))
    assert not isinstance(memory.images, np.memmap) and len(entries(cache_dir)) == 1
    again = load_dataset(config(folder, cache="memory"))  # read into memory from the cache file
    assert not isinstance(again.images, np.memmap) and np.array_equal(again.images, off.images)


def test_bad_images_error_or_skip(folder, cache_dir):
    (folder / "0" / "empty.png").write_bytes(b"")
    (folder / "1" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DataError, match=rf"^{folder}/0/empty.png: not a readable image"):
        load_dataset(config(folder, cache="disk"))
    assert len(entries(cache_dir)) == 1  # one entry of these files, whatever data.bad_images says
    data = load_dataset(config(folder, cache="disk", bad_images="skip"))
    assert len(data.skipped) == 2 and data.skipped[0].startswith(f"{folder}/0/empty.png: ")
    assert data.skipped[1].startswith(f"{folder}/1/broken.jpg: ")
    assert len(data.train) + len(data.validation) == 36  # the two rows of the array are in no split
    assert "skipped 2 unreadable image files (data.bad_images: skip)" in data.describe()


def test_splits_are_index_arrays_into_one_array(folder, cache_dir):
    data = load_dataset(config(folder, cache="disk", subset=20))
    assert data.train.dtype == np.int64 and data.validation.dtype == np.int64
    assert not set(data.train) & set(data.validation)
    assert (len(data.train), len(data.validation)) == (20, 9)  # the subset is per split: 20 of 27, all 9
    batches = TrainingBatches(data.images, data.labels, indices=data.train, batch_size=4, num_classes=3,
                              one_hot=False, seed=1, face="keras")
    assert batches.source.images is data.images  # the batches gather from the one array, no copy of it
    x, y = batches.dataset[0]
    positions = batches.source.indices[batches.source.order(0)[:4]]
    assert np.array_equal(x, np.asarray(data.images)[positions].astype(np.float32))
    npz = load_dataset(config_from_dict({"name": "t", "model": {"layers": [{"type": "flatten"}]},
                                         "data": {"source": "npz", "path": SAMPLE}}, "t.yaml"))
    assert npz.images.shape == (4000, 28, 28, 1)  # train and test in one array, the test split after train
    assert np.array_equal(npz.test, np.arange(3000, 4000)) and npz.images.base is None


def _rows_file(tmp_path: Path, shape) -> tuple[np.memmap, tuple[str, int]]:
    """A file of `shape` uint8 rows after a 16-byte header, memory-mapped: what the cache's writer hands over."""
    path = tmp_path / "rows.bin"
    path.write_bytes(b"h" * 16 + bytes(int(np.prod(shape))))
    return np.memmap(path, dtype=np.uint8, mode="r+", offset=16, shape=shape), (str(path), 16)


def test_parallel_decoding_equals_one_thread(folder, tmp_path):
    files = sorted(folder.rglob("*.png"))
    full = (len(files), 20, 24, 1)
    one, two = (np.empty(full, np.uint8) for _ in range(2))
    mapped, rows_file = _rows_file(tmp_path, full)
    decode_into(one, files, (20, 24, 1), workers=1)
    decode_into(two, files, (20, 24, 1), workers=2)
    decode_into(mapped, files, (20, 24, 1), workers=2, processes=True, rows_file=rows_file)
    assert one.std() > 0
    for other in (two, mapped):
        np.testing.assert_array_equal(one, other)
    assert Path(rows_file[0]).read_bytes()[:16] == b"h" * 16  # the workers wrote the rows, not the header
    (folder / "1" / "3.png").write_bytes(b"")
    (folder / "7" / "0.png").write_bytes(b"")
    ways = [{"processes": False}, {"processes": True, "rows_file": rows_file}]
    for way in ways:  # the first bad file in file order, from threads or processes alike
        with pytest.raises(DataError, match=rf"^{folder}/1/3.png: not a readable image"):
            decode_into(mapped if "rows_file" in way else one, files, (20, 24, 1), workers=2, **way)
        bad = decode_into(mapped if "rows_file" in way else one, files, (20, 24, 1), workers=2, skip_bad=True, **way)
        assert list(bad) == [files.index(folder / "1" / "3.png"), files.index(folder / "7" / "0.png")]
    assert not mapped[files.index(folder / "1" / "3.png")].any() and mapped[0].any()


def test_a_worker_that_dies_or_cannot_start_leaves_its_chunks_to_its_thread(folder, tmp_path, monkeypatch):
    files = sorted(folder.rglob("*.png"))
    full = (len(files), 20, 24, 1)
    one = np.empty(full, np.uint8)
    decode_into(one, files, (20, 24, 1), workers=1)
    started = []

    def dying(spec):  # a worker that ends at once: its pipe breaks, or it answers nothing
        started.append(spec)
        return subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)

    for start in (dying, lambda spec: None):
        mapped, rows_file = _rows_file(tmp_path, full)
        monkeypatch.setattr(decode, "_start_worker", start)
        assert decode_into(mapped, files, (20, 24, 1), workers=2, processes=True, rows_file=rows_file) == {}
        np.testing.assert_array_equal(one, mapped)
        del mapped
    assert len(started) == 2


def test_worker_processes_never_run_the_program_that_started_them(folder, tmp_path):
    """A script without a `__main__` guard decodes through worker processes: it runs once, not once per worker
    (what multiprocessing's spawn and forkserver would do)."""
    script, log = tmp_path / "script.py", tmp_path / "runs.log"
    script.write_text(f"""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, {str(Path(decode.__file__).parents[2])!r})
from cnn_cli.data.decode import decode_into
with open({str(log)!r}, "a") as out:
    out.write("run\\n")
files = sorted(Path({str(folder)!r}).rglob("*.png"))
Path({str(tmp_path / "rows.bin")!r}).write_bytes(bytes(len(files) * 20 * 24))
rows = np.memmap({str(tmp_path / "rows.bin")!r}, dtype=np.uint8, mode="r+", shape=(len(files), 20, 24, 1))
decode_into(rows, files, (20, 24, 1), workers=2, processes=True, rows_file=({str(tmp_path / "rows.bin")!r}, 0))
print(int(rows.sum()))
""")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert log.read_text() == "run\n" and int(done.stdout) > 0


def test_a_decoding_worker_imports_pillow_alone():
    """What keeps a worker's start-up at a few hundredths of a second: no NumPy, Keras, TensorFlow or pandas."""
    code = ("import sys; import cnn_cli.data.decode_worker; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'keras', 'tensorflow', 'pandas')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(decode.__file__).parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # a process that ended meanwhile
        return b""


def test_ctrl_c_while_worker_processes_decode_leaves_no_worker_and_no_half_entry(tmp_path):
    """`cnn predict` on 2,000 files (worker processes: the cache file's rows), interrupted once decoding shows
    progress: one line and exit 130, the workers ended, no temporary file left in the cache folder."""
    import signal

    from tests.run_helpers import mnist_run

    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (1200, 1200), dtype=np.uint8)).save(big)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(decode.PROCESS_MIN):
        os.link(big, photos / f"{i:05d}.png")  # one slow PNG, many names
    cache = tmp_path / "cache"
    env = {**os.environ, C.ENV: str(cache), "CNN_DECODE_WORKERS": "2"}
    process = subprocess.Popen([sys.executable, "-m", "cnn_cli", "predict", str(mnist_run()), str(photos)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               # as from a terminal: a test run in the background inherits SIGINT ignored
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in process.stderr:  # progress lines on stderr: decoding has begun in the workers
        seen.append(line)
        if line.startswith("Decoding"):
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(seen) + err
    assert err.strip().splitlines()[-1] == "Interrupted." and "Traceback" not in err
    assert [p for p in Path("/proc").glob("[0-9]*/cmdline") if str(cache).encode() in _read(p)] == []
    assert [f.name for f in cache.rglob("*") if f.is_file()] == []


def test_resize_modes_and_exif_orientation(tmp_path):
    wide = tmp_path / "wide.png"
    image = Image.new("L", (40, 20), 255)
    image.save(wide)
    stretched = read_image(wide, (32, 32, 1), "stretch")
    padded = read_image(wide, (32, 32, 1), "pad")
    assert stretched.min() == 255
    assert padded[0].max() == 0 and padded[-1].max() == 0 and padded[16].min() == 255  # black bars above, below
    halves = Image.new("L", (40, 20), 0)
    halves.paste(255, (20, 0, 40, 20))  # left half black, right half white
    halves.save(wide)
    cropped = read_image(wide, (20, 20, 1), "crop")
    assert cropped[:, 0].max() < 128 and cropped[:, -1].min() > 128  # the centre kept, at its aspect
    turned = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to show
    Image.new("L", (40, 20), 128).save(turned, exif=exif)
    upright = read_image(turned, (40, 20, 1))
    assert upright.shape == (40, 20, 1)  # 20 wide, 40 high once upright: no resize was needed
    with Image.open(turned) as raw:
        assert raw.size == (40, 20)


def test_progress_lines_every_tenth_without_a_terminal():
    out = io.StringIO()
    progress = Progress(200, "Decoding 200 images", stream=out)
    for _ in range(20):
        progress.advance(10)
    progress.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and lines[0].startswith("Decoding 200 images:  10% (20/200 images")
    assert lines[-1].startswith("Decoding 200 images: 100% (200/200 images")


def test_cache_list_and_clear(folder, cache_dir):
    load_dataset(config(folder, cache="disk"))
    (listed,) = C.list_entries()
    assert listed["shape"] == [36, 32, 32, 3] and listed["bytes"] > 36 * 32 * 32 * 3
    assert C.clear_entries() == (1, listed["bytes"]) and C.list_entries() == []


def test_train_evaluate_predict_on_a_folder_through_the_cache(folder, tmp_path, runner, write_config, monkeypatch):
    from cnn_cli.cli import main

    (folder / "1" / "empty.png").write_bytes(b"")
    cache = tmp_path / "the-cache"
    path = write_config({
        "name": "folder", "seed": 1,
        "model": {"layers": [{"type": "flatten"}, {"type": "dense", "units": "num_classes", "activation": "softmax"}]},
        "data": {"source": "folder", "path": str(folder), "bad_images": "skip", "cache": "disk", "test_split": 0},
        "train": {"batch_size": 8, "epochs": 1},
    })
    run = tmp_path / "run"
    result = runner.invoke(main, ["train", "--config", path, "--cache-dir", str(cache), "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    assert f"Skipped 1 unreadable image file (listed in {run / 'skipped_images.txt'})" in result.output
    assert (run / "skipped_images.txt").read_text().startswith(f"{folder}/1/empty.png: not a readable image")
    listed = runner.invoke(main, ["cache", "list", "--cache-dir", str(cache)])
    assert listed.exit_code == 0 and "37x32x32x3" in listed.output and "1 entry" in listed.output
    evaluated = runner.invoke(main, ["evaluate", str(run), "--cache-dir", str(cache), "--no-write", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert '"split": "validation"' in evaluated.output and '"num_examples": 8' in evaluated.output
    predicted = runner.invoke(main, ["predict", str(run), str(folder / "7"), "--json"])
    assert predicted.exit_code == 0, predicted.output
    assert predicted.output.count('"input"') == PER_CLASS and f'"{folder}/7/11.png"' in predicted.output
    cleared = runner.invoke(main, ["cache", "clear", "--cache-dir", str(cache)])
    assert cleared.output.startswith("Removed 1 entry") and entries(cache) == []

    # predict on the whole folder: decoded in parallel into the cache, then read from it
    predicted_cache = tmp_path / "predict-cache"
    args = ["predict", str(run), str(folder), "--json", "--cache-dir", str(predicted_cache), "--top-k", "1"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "Cached 37 images" in first.stderr and len(entries(predicted_cache)) == 1
    report = json.loads(first.stdout)
    assert report["failed"] == 0 and len(report["predictions"]) == 3 * PER_CLASS
    assert report["skipped"] == [{"file": f"{folder}/1/empty.png", "reason": "not a readable image (Pillow does "
                                  "not recognise the format)"}]  # the run's data.bad_images: skip
    import keras

    model = keras.saving.load_model(run / "model.keras")
    files = [p["file"] for p in report["predictions"]]
    pixels = np.stack([read_image(f, (32, 32, 3)) for f in files]).astype(np.float32)
    assert [p["top"][0]["index"] for p in report["predictions"]] == model.predict(pixels, verbose=0).argmax(1).tolist()

    def no_decoding(*args, **kwargs):
        raise AssertionError("an image file was opened")

    monkeypatch.setattr("PIL.Image.open", no_decoding)
    second = runner.invoke(main, args)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout) == report and "Cached" not in second.stderr


def test_training_border_mean_gathers_a_sample_of_the_store_by_index(tmp_path):
    from cnn_cli.inference import background

    rng = np.random.default_rng(3)
    images = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.uint8, shape=(3000, 16, 16, 1))
    images[:] = rng.integers(0, 256, images.shape)
    train = rng.permutation(3000)[:2500]

    class Gathers:
        """The store's images, recording each gather."""

        def __init__(self):
            self.sizes: list[int] = []

        def __len__(self):
            return len(images)

        def __getitem__(self, index):
            assert np.all(np.diff(index) > 0)  # sorted: a memory map read in order
            self.sizes.append(len(index))
            return images[index]

    gathers = Gathers()
    mean = background.training_border_mean(gathers, train)
    assert sum(gathers.sizes) == background.SAMPLE and max(gathers.sizes) == background.CHUNK
    x = np.asarray(images[train[:background.SAMPLE]], dtype=np.float64)  # the first 2,048 training images, whole
    ring = np.concatenate([x[:, :2].reshape(len(x), -1), x[:, -2:].reshape(len(x), -1),
                           x[:, 2:-2, :2].reshape(len(x), -1), x[:, 2:-2, -2:].reshape(len(x), -1)], axis=1)
    assert mean == round(float(ring.mean()), 2) and 120 < mean < 135
