"""What `cnn predict` is given, turned into the files it predicts: folders are opened (recursively, in natural
order), and what `cnn train` skips in an image folder is skipped here too and listed (a file that is not a
PNG or JPEG image, such as `Thumbs.db` or `README.txt`; hidden files and folders). A CSV file in the run's
layout is predicted row by row when it is named, skipped inside a folder (as train skips it). A path that does not exist is kept, to be reported on its own line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from natsort import natsorted

from cnn_cli.data.sources.folder import EXTENSIONS

CSV = ".csv"
SHOWN = 8  # skipped files named in the one line that lists them


@dataclass
class Inputs:
    """The files to predict, in order (folders opened), and the files skipped with the reason."""

    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def skipped_line(self) -> str | None:
        """One line naming the skipped files (capped), or None."""
        if not self.skipped:
            return None
        names = ", ".join(f"{path} ({why})" for path, why in self.skipped[:SHOWN])
        more = f" and {len(self.skipped) - SHOWN} more" if len(self.skipped) > SHOWN else ""
        return f"Skipped {len(self.skipped)} file(s), as cnn train does: {names}{more}"


def skip_reason(path: Path) -> str | None:
    """Why `cnn train` would skip `path` in an image folder (None: it reads it)."""
    if path.name.startswith("."):
        return "a hidden file"
    if path.suffix.lower() not in EXTENSIONS:
        return f"not an image: {', '.join(EXTENSIONS)} are read"
    return None


def gather(paths: list[str]) -> Inputs:
    """The files of `paths`: a folder gives the files under it; a file that `cnn train` would skip is listed
    as skipped (CSV files are predicted row by row); a missing path is kept (its line reports it)."""
    found = Inputs()
    for path in paths:
        item = Path(path)
        if item.is_dir():
            _folder(item, found)
        elif item.is_file() and item.suffix.lower() != CSV and skip_reason(item) is not None:
            found.skipped.append((path, skip_reason(item)))
        else:
            found.files.append(path)
    return found


def _folder(folder: Path, found: Inputs) -> None:
    entries = natsorted(folder.iterdir(), key=lambda p: p.name)
    for entry in entries:
        if entry.name.startswith(".") and entry.is_dir():
            continue
        if entry.is_dir():
            _folder(entry, found)
        elif (why := skip_reason(entry)) is not None:
            found.skipped.append((str(entry), why))
        else:
            found.files.append(str(entry))
