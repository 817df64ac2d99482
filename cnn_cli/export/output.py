"""Where an export goes and how it gets there without ever leaving a half-written file at its name.

The artifact (a file, or a folder for SavedModel) and its class map (`<artifact name>.labels.json`, beside it)
are written under temporary names in the same folder and renamed into place only once the artifact has passed
verification. An existing artifact or class map is refused unless `--force`; then the old one is replaced.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
from pathlib import Path

from cnn_cli.errors import CnnError

LABELS_SUFFIX = ".labels.json"


def default_path(folder: Path, fmt: str, suffix: str, quantize: str | None) -> Path:
    """In `folder` (RUN_DIR/export): model.onnx, model-float16.tflite, saved_model/, ..."""
    stem = "saved_model" if fmt == "saved_model" else "model"
    return folder / f"{stem}{'-' + quantize if quantize else ''}{suffix}"


def labels_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + LABELS_SUFFIX)


def check_target(path: Path, suffix: str, force: bool, flag: str = "-o") -> list[Path]:
    """Refuses an output path that exists (unless `force`), a wrong file name, or a folder that cannot be written.
    Creates the missing folders of `path` and returns them, so that a failed export can remove them again."""
    if suffix and path.suffix.lower() != suffix:
        raise CnnError(f"{flag} {path}: the file name of this format ends in {suffix}")
    if not suffix and path.suffix.lower() in (".onnx", ".tflite", ".keras", ".json"):
        raise CnnError(f"{flag} {path}: a SavedModel is a folder; give a folder name without {path.suffix}")
    for target in (path, labels_path(path)):
        if (target.exists() or target.is_symlink()) and not force:
            raise CnnError(f"{target}: exists; add --force to replace it")
        if target.is_dir() and target == labels_path(path):
            raise CnnError(f"{target}: exists and is a folder; cannot write the class map there")
    if force and path.exists() and (path.is_dir() != (not suffix)):
        raise CnnError(f"{path}: exists and is a {'folder' if path.is_dir() else 'file'}; refusing to replace it "
                       f"with a {'file' if suffix else 'folder'}")
    if force and path.is_dir() and not (path / "saved_model.pb").is_file() and any(path.iterdir()):
        raise CnnError(f"{path}: a folder of other files, not a SavedModel; refusing to replace it even with --force")
    folder = path.parent
    created = [p for p in (folder, *folder.parents) if not p.exists() and not p.is_symlink()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not folder.is_dir():
            raise CnnError(f"{folder}: not a folder; cannot write the export there")
        probe = folder / f".cnn-export-probe-{secrets.token_hex(4)}"
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as exc:
        remove_folders(created)
        what = "a file, not a folder" if exc.errno in (errno.EEXIST, errno.ENOTDIR) else exc.strerror or str(exc)
        raise CnnError(f"{folder}: cannot write the export there ({what})") from None
    return created


def remove_folders(created: list[Path]) -> None:
    """Removes the folders `check_target` created, deepest first, if they are still empty."""
    for folder in created:
        with contextlib.suppress(OSError):
            folder.rmdir()


def temporary(path: Path) -> Path:
    """A fresh name beside `path`, hidden, keeping the suffix (Keras' LiteRT export insists on .tflite)."""
    return path.with_name(f".{path.stem}.partial-{secrets.token_hex(4)}{path.suffix}")


def size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def write_json(path: Path, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())


def put_in_place(temp: Path, path: Path) -> None:
    """Renames `temp` to `path`; an existing folder at `path` is moved aside first and removed after."""
    if temp.is_dir() and path.is_dir():
        aside = path.with_name(f".{path.name}.old-{secrets.token_hex(4)}")
        os.replace(path, aside)
        os.replace(temp, path)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(temp, path)


def discard(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
