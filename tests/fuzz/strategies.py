"""Hypothesis strategies of the fuzzer: configs (the shipped ones, mutated in type, range, structure and YAML
form), `--set` values, damage to a run directory's files, and data files (CSV, NPZ, IDX, images)."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import yaml
from hypothesis import strategies as st

from tests.run_helpers import ROOT

CONFIGS = sorted(p for p in (ROOT / "configs").glob("*.yaml"))
CHEAP_CONFIGS = [p for p in CONFIGS if p.stem in ("mnist", "fashion_mnist_fast", "pooling", "sign_language")]


def examples(ci: int) -> int:
    """Examples per test: `ci` in CI, CNN_FUZZ_EXAMPLES under `make fuzz`."""
    return int(os.environ.get("CNN_FUZZ_EXAMPLES") or ci)


# --- values --------------------------------------------------------------------------------------------------

numbers = st.one_of(
    st.integers(-10, 10), st.integers(-(2**70), 2**70), st.sampled_from([0, 1, -1, 2**31, 2**32, 2**63, 10**18]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1e-300, 1e300, 0.5, 1.5]),
)
texts = st.one_of(st.text(max_size=20), st.sampled_from(["", " ", "num_classes", "relu", "same", "adam", "none",
                                                         "../../etc/passwd", "a" * 300, "\x00", "é", "~"]))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(texts, inner, max_size=3)), max_leaves=8)

# Text given to `--set key=...`: YAML scalars and flow collections, and broken YAML.
yaml_texts = st.one_of(
    values.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip().replace("\n", " ")),
    st.sampled_from(["[", "{", "]", "}", "*x", "&a [*a]", "!!python/object:os.system", ".inf", "-.inf", ".nan",
                     "1e400", "9" * 5000, "0x" + "f" * 100, "[" * 500, "{a: 1, a: 2}", "? [a]\n: 1", "'", '"',
                     "1:2:3", "null", "~", "yes", "on", "2001-12-14", "1_000", "0o777"]),
    st.text(max_size=30),
)


def _paths(node, prefix=()) -> list[tuple]:
    """Every key path of a config (mappings by key, lists by index)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@st.composite
def config_keys(draw, config: Path | None = None) -> str:
    """A key path of a shipped config, or one next to it (an unknown key, an index past a list's end)."""
    raw = yaml.safe_load((config or draw(st.sampled_from(CHEAP_CONFIGS))).read_text())
    path = draw(st.sampled_from(_paths(raw)))
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return dotted(path) + "." + draw(st.sampled_from(["bogus", "type", "name", "x"]))
    if kind == 1:
        return dotted(path) + f"[{draw(st.integers(0, 2**40))}]"
    return dotted(path)


# --- configs -------------------------------------------------------------------------------------------------

def _set(node, path: tuple, value) -> None:
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _delete(node, path: tuple) -> None:
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]


@st.composite
def config_texts(draw) -> str:
    """A shipped config with a few mutations, written as YAML (block or flow style), sometimes then damaged
    as text (truncated, a byte changed, indentation broken)."""
    config = draw(st.sampled_from(CONFIGS))
    raw = yaml.safe_load(config.read_text())
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(raw)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["value", "value", "delete", "unknown", "retype", "duplicate"]))
        try:
            if action == "value":
                _set(raw, path, draw(values))
            elif action == "delete":
                _delete(raw, path)
            elif action == "unknown":
                parent = raw
                for part in path[:-1]:
                    parent = parent[part]
                if isinstance(parent, dict):
                    parent[draw(texts)] = draw(values)
            elif action == "retype":
                old = raw
                for part in path:
                    old = old[part]
                _set(raw, path, [old] if not isinstance(old, list) else {"x": old})
            elif action == "duplicate":
                parent = raw
                for part in path[:-1]:
                    parent = parent[part]
                if isinstance(parent, list):
                    parent.extend(parent[: draw(st.integers(1, 3))])
        except (KeyError, IndexError, TypeError):
            pass
    text = yaml.safe_dump(raw, sort_keys=False, default_flow_style=draw(st.sampled_from([False, True, None])),
                          allow_unicode=True)
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "byte", "indent", "tab"]))
    if damage == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif damage == "byte" and text:
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.sampled_from(list(":-[]{}&*!|>'\"%@`#,? \t\n\x00"))) + text[at + 1:]
    elif damage == "indent":
        lines = text.splitlines()
        at = draw(st.integers(0, max(0, len(lines) - 1)))
        if lines:
            lines[at] = " " * draw(st.integers(1, 5)) + lines[at]
        text = "\n".join(lines)
    elif damage == "tab":
        text = text.replace("  ", "\t", 1)
    return text


# --- run directories -----------------------------------------------------------------------------------------

RUN_FILES = ["config.yaml", "run.json", "labels.json", "metrics.json", "history.csv", "summary.txt",
             "model.keras", "best.keras", ".lock", "training_curves.png"]
DAMAGE = ["truncate", "empty", "garble", "retype", "delete", "append"]


@st.composite
def damage(draw, run_dir: Path) -> tuple[str, str]:
    """Damages one file of `run_dir` (a copy) and says which and how."""
    files = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())
    name = draw(st.sampled_from(files))
    how = draw(st.sampled_from(DAMAGE))
    path = run_dir / name
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: draw(st.integers(0, max(0, len(data) - 1)))])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garble" and data:
        at = draw(st.integers(0, len(data) - 1))
        size = draw(st.integers(1, 64))
        path.write_bytes(data[:at] + draw(st.binary(min_size=size, max_size=size)) + data[at + size:])
    elif how == "retype":
        path.write_bytes(_retyped(draw, name, data))
    elif how == "delete":
        path.unlink()
    elif how == "append":
        path.write_bytes(data + draw(st.binary(min_size=1, max_size=100)))
    return name, how


def _retyped(draw, name: str, data: bytes) -> bytes:
    """A structured file with one value of another type (JSON, YAML, CSV cells, or a member of a .keras)."""
    if name.endswith(".keras"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {n: archive.read(n) for n in archive.namelist()}
        target = draw(st.sampled_from(sorted(members)))
        if target.endswith(".json"):
            members[target] = _retyped(draw, target, members[target])
        else:
            members[target] = draw(st.binary(max_size=200))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for n, content in members.items():
                archive.writestr(n, content)
        return out.getvalue()
    try:
        if name.endswith(".json"):
            raw = json.loads(data)
            loader, dumper = json.loads, lambda v: json.dumps(v).encode()
        elif name.endswith(".yaml"):
            raw = yaml.safe_load(data)
            loader, dumper = yaml.safe_load, lambda v: yaml.safe_dump(v).encode()
        else:
            lines = data.decode().splitlines()
            if len(lines) < 2:
                return data
            row = draw(st.integers(0, len(lines) - 1))
            cells = lines[row].split(",")
            cells[draw(st.integers(0, len(cells) - 1))] = str(draw(scalars))
            lines[row] = ",".join(cells)
            return "\n".join(lines).encode()
    except (ValueError, UnicodeDecodeError, yaml.YAMLError):
        return data
    del loader
    paths = _paths(raw)
    if not paths:
        return dumper(draw(values))
    try:
        _set(raw, draw(st.sampled_from(paths)), draw(values))
    except (TypeError, KeyError, IndexError):
        pass
    return dumper(raw)


# --- data files ----------------------------------------------------------------------------------------------

@st.composite
def npz_files(draw, folder: Path) -> Path:
    path = folder / "data.npz"
    n = draw(st.integers(0, 12))
    shape = draw(st.sampled_from([(n, 8, 8), (n, 8, 8, 1), (n, 8, 8, 3), (n, 8), (n,), (n, 0, 8), (n, 8, 8, 2)]))
    dtype = draw(st.sampled_from(["uint8", "float32", "int64", "bool", "complex64", "U2", "float16"]))
    x = np.zeros(shape, dtype=dtype)
    labels = draw(st.lists(st.one_of(st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
                                     st.integers(-(2**62), 2**62)), min_size=n, max_size=n + draw(st.integers(0, 1))))
    y = np.array(labels) if labels else np.zeros(0, dtype=np.int64)
    arrays = {"x_train": x, "y_train": y}
    if draw(st.booleans()):
        arrays[draw(st.sampled_from(["x_test", "y_test", "x_val", "other"]))] = x[:1]
    np.savez(path, **arrays)
    how = draw(st.sampled_from(["none", "none", "truncate", "garble", "header"]))
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: draw(st.integers(0, len(data)))])
    elif how == "garble" and data:
        at = draw(st.integers(0, len(data) - 1))
        path.write_bytes(data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at + 16:])
    elif how == "header":
        header = io.BytesIO()
        declared = draw(st.sampled_from([(10**9, 10**4, 10**4), (-1, 8, 8), (2**62, 2), (3, 8, 8), (0,)]))
        try:
            np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": declared})
        except ValueError:
            header.write(b"\x93NUMPY\x01\x00")
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("x_train.npy", header.getvalue() + b"\x00" * draw(st.integers(0, 64)))
            buf = io.BytesIO()
            np.save(buf, y)
            archive.writestr("y_train.npy", buf.getvalue())
    return path


@st.composite
def csv_files(draw, folder: Path) -> Path:
    path = folder / "data.csv"
    rows = draw(st.integers(0, 6))
    width = draw(st.sampled_from([4, 16, 64, 63]))
    header = "label," + ",".join(f"pixel{i}" for i in range(width))
    if draw(st.integers(0, 5)) == 0:
        header = draw(st.sampled_from(["", "label", "x,y", "label,label", "\ufefflabel,pixel0"]))
    cell = st.one_of(st.integers(0, 255), st.sampled_from(["", "256", "-1", "nan", "1.5", "x", '"', "1e9"]))
    lines = [header] + [",".join(str(draw(cell)) for _ in range(width + 1 + draw(st.integers(-1, 1))))
                        for _ in range(rows)]
    path.write_text("\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n", "\r\n"])))
    return path


@st.composite
def idx_folders(draw, folder: Path) -> Path:
    """A folder holding train-images-idx3-ubyte / train-labels-idx1-ubyte with headers of any counts."""
    target = folder / "idx"
    target.mkdir(exist_ok=True)
    n = draw(st.integers(0, 6))
    declared = draw(st.sampled_from([n, n + 1, 0, 2**31 - 1, 2**32 - 1]))
    rows, cols = draw(st.sampled_from([(8, 8), (0, 8), (2**16, 2**16), (1, 1)]))
    dtype_code = draw(st.sampled_from([0x08, 0x08, 0x09, 0x0D, 0x42]))
    images = struct.pack(">BBBBIII", 0, 0, dtype_code, 3, declared, rows, cols) + bytes(n * 64)
    labels = struct.pack(">BBBBI", 0, 0, 0x08, 1, draw(st.sampled_from([n, declared, n + 2]))) + bytes(range(n))
    (target / "train-images-idx3-ubyte").write_bytes(images[: draw(st.integers(0, len(images)))]
                                                     if draw(st.integers(0, 4)) == 0 else images)
    (target / "train-labels-idx1-ubyte").write_bytes(labels)
    return target


@st.composite
def image_files(draw, folder: Path) -> Path:
    """An image file: a real PNG or JPEG of some size and mode, or one truncated, garbled or of another kind."""
    from PIL import Image

    name = draw(st.sampled_from(["x.png", "x.jpg", "x.gif", "x.bmp", "x.webp", "x.txt", "x"]))
    path = folder / name
    mode = draw(st.sampled_from(["L", "RGB", "RGBA", "P", "1", "I;16", "CMYK"]))
    size = draw(st.sampled_from([(1, 1), (8, 8), (28, 28), (3, 500), (0, 0)]))
    fmt = {"png": "PNG", "jpg": "JPEG", "gif": "GIF", "bmp": "BMP", "webp": "WEBP"}.get(name.rsplit(".", 1)[-1], "PNG")
    try:
        Image.new(mode, size).save(path, format=fmt)
    except (OSError, ValueError, KeyError, SystemError, MemoryError):
        path.write_bytes(b"")
    data = path.read_bytes()
    how = draw(st.sampled_from(["none", "truncate", "garble", "empty"]))
    if how == "truncate":
        path.write_bytes(data[: draw(st.integers(0, len(data)))])
    elif how == "garble" and data:
        at = draw(st.integers(0, len(data) - 1))
        path.write_bytes(data[:at] + draw(st.binary(min_size=1, max_size=32)) + data[at + 32:])
    elif how == "empty":
        path.write_bytes(b"")
    return path
