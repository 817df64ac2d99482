"""Comparing configs: one training run per combination of `--vary key.path=v1,v2,...` values.

Every variant is trained by `cnn train` in its own subprocess (which keeps Keras' global state apart),
with the same config, seed, data, subset and epochs, and `--set key.path=value` for its values; its run
directory is `OUT/<variant>` and its console output `OUT/<variant>.log`. The results (from each run's
metrics.json and history.csv) are collected into `OUT/comparison.csv` and a bar chart
`OUT/comparison.png`, with the training curves overlaid in `OUT/comparison_curves.png` and all of it on
one page, `OUT/comparison.html`. A variant that fails is listed with its status; the others are kept.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cnn_cli.config.overrides import parse_key
from cnn_cli.errors import CnnError, ConfigError
from cnn_cli.number_format import to_float
from cnn_cli.reports.plots import plot_comparison as draw
from cnn_cli.resolve import load_config
from cnn_cli.resolve.run_config import choose_seed
from cnn_cli.rundir import default_run_dir
from cnn_cli.rundir.run_dir import RunDir

COMPARISON_CSV = "comparison.csv"
COMPARISON_PNG = "comparison.png"
MAX_VARIANTS = 64
CSV_COLUMNS = ("variant", "status", "best_val_accuracy", "test_accuracy", "test_loss", "epochs", "seconds",
               "train_seconds", "run_dir", "error", "test_balanced_accuracy", "test_macro_f1")


@dataclass
class Vary:
    key: str
    values: list[str]


@dataclass
class Variant:
    name: str  # folder name under OUT
    settings: list[tuple[str, str]]  # (key.path, value text)
    status: str = "pending"
    best_val_accuracy: float | None = None
    test_accuracy: float | None = None
    test_loss: float | None = None
    epochs: int | None = None
    seconds: float | None = None
    train_seconds: float | None = None
    run_dir: str = ""
    error: str = ""
    test_balanced_accuracy: float | None = None  # an imbalanced or calibrated run's (metrics.json)
    test_macro_f1: float | None = None

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.settings)

    @property
    def overrides(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.settings]

    def row(self) -> dict:
        return {"variant": self.label, "status": self.status, "best_val_accuracy": self.best_val_accuracy,
                "test_accuracy": self.test_accuracy, "test_loss": self.test_loss, "epochs": self.epochs,
                "seconds": self.seconds, "train_seconds": self.train_seconds, "run_dir": self.run_dir, "error": self.error,
                "test_balanced_accuracy": self.test_balanced_accuracy, "test_macro_f1": self.test_macro_f1,
                **{k: v for k, v in self.settings}}


def parse_vary(text: str) -> Vary:
    """`key.path=v1,v2,...` (values read as YAML; commas inside [..], {..} or quotes do not split)."""

    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep:
        raise ConfigError("--vary", text, "expected key.path=value1,value2,...")
    parse_key(key, "--vary", text)
    values = [v.strip() for v in _split_top_level(rest)]
    if not values or any(v == "" for v in values):
        raise ConfigError("--vary", key, "expected a comma-separated list of values, none empty", rest)
    if len(set(values)) != len(values):
        raise ConfigError("--vary", key, "expected different values", rest)
    return Vary(key, values)


def _split_top_level(text: str) -> list[str]:
    parts, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return parts


def make_variants(varies: Sequence[Vary]) -> list[Variant]:
    """The grid: every combination of the values, in the order given (the last --vary changes fastest)."""
    keys = [v.key for v in varies]
    for i, key in enumerate(keys):
        for other in keys[:i]:
            if key == other or key.startswith((other + ".", other + "[")) or other.startswith((key + ".", key + "[")):
                raise ConfigError("--vary", key, f"varied twice (also by --vary {other}=...)")
    variants = [Variant(name="", settings=list(zip(keys, combo)))
                for combo in itertools.product(*(v.values for v in varies))]
    if len(variants) > MAX_VARIANTS:
        raise CnnError(f"--vary: {len(variants)} combinations; at most {MAX_VARIANTS} are run by one compare")
    short = [k.rsplit(".", 1)[-1] for k in keys]
    use = short if len(set(short)) == len(short) else keys
    seen: dict[str, int] = {}
    for variant in variants:
        name = "_".join(f"{k}-{_safe(v)}" for k, (_, v) in zip(use, variant.settings))[:120] or "variant"
        seen[name] = seen.get(name, 0) + 1
        variant.name = name if seen[name] == 1 else f"{name}-{seen[name]}"
    return variants


def _safe(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "", value.replace(" ", "")) or "x"


@dataclass
class CompareOptions:
    config_path: str
    varies: Sequence[str]
    overrides: Sequence[str] = ()
    epochs: int | None = None
    subset: int | None = None
    data_path: str | None = None
    out: str | None = None
    seed: int | None = None


def compare(opts: CompareOptions, echo: Callable[[str], None] = print) -> tuple[Path, list[Variant]]:
    variants = make_variants([parse_vary(v) for v in opts.varies])
    base = load_config(opts.config_path, opts.overrides)
    for variant in variants:  # every variant's config must be valid before anything is trained
        load_config(opts.config_path, opts.overrides, variant.overrides)
    seed = opts.seed if opts.seed is not None else base.seed
    if seed is None:
        seed = choose_seed(None)
    out = Path(opts.out) if opts.out else default_run_dir(f"compare-{base.name}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CnnError(f"{out}: exists and is not an empty directory (give a new --out DIR)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CnnError(f"{out}: cannot create the folder ({exc.strerror or exc})") from None

    echo(f"Comparing {len(variants)} variants of {opts.config_path} (seed {seed}) in {out}")
    try:
        for number, variant in enumerate(variants, 1):
            echo(f"[{number}/{len(variants)}] {variant.label} ...")
            run_variant(variant, opts, seed, out)
            echo(f"[{number}/{len(variants)}] {variant.label}: {variant.status}"
                 + (f" in {variant.seconds:.1f}s" if variant.seconds is not None else "")
                 + (f" -- {variant.error}" if variant.error else ""))
    except KeyboardInterrupt:
        for variant in variants:
            if variant.status in ("pending", "running"):
                variant.status = "interrupted"
        write_results(variants, out)
        raise
    write_results(variants, out)
    return out, variants


def train_command(variant: Variant, opts: CompareOptions, seed: int, run_dir: Path) -> list[str]:
    command = [sys.executable, "-m", "cnn_cli", "train", "--config", opts.config_path]
    for item in [*opts.overrides, *variant.overrides]:
        command += ["--set", item]
    command += ["--seed", str(seed), "--run-dir", str(run_dir)]
    if opts.epochs is not None:
        command += ["--epochs", str(opts.epochs)]
    if opts.subset is not None:
        command += ["--subset", str(opts.subset)]
    if opts.data_path is not None:
        command += ["--data", opts.data_path]
    return command


def run_variant(variant: Variant, opts: CompareOptions, seed: int, out: Path) -> None:
    run_dir = out / variant.name
    variant.run_dir = str(run_dir)
    variant.status = "running"
    log = out / f"{variant.name}.log"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as f:
        f.write(" ".join(train_command(variant, opts, seed, run_dir)) + "\n")
        f.flush()
        try:
            code = subprocess.call(train_command(variant, opts, seed, run_dir), stdout=f, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env)
        except OSError as exc:
            code, variant.error = -1, f"cannot start cnn train ({exc})"
    variant.seconds = round(time.perf_counter() - started, 2)
    collect(variant, run_dir)
    if not run_dir.exists():  # failed before it made its run directory
        variant.run_dir = ""
    if code != 0:
        variant.status = {3: "diverged", 130: "interrupted"}.get(code, f"failed (exit {code})")
        if not variant.error:
            variant.error = _last_error(log)
    elif variant.status != "complete":
        variant.status = variant.status if variant.status != "running" else "failed (no run.json)"


def collect(variant: Variant, run_dir: Path) -> None:
    """Fills the variant's results from its run directory (whatever is there, read through the schemas; a
    damaged file becomes the variant's error)."""

    run = RunDir(run_dir)
    if not run.is_run():  # failed before it wrote run.json: the log tells why
        return
    try:
        variant.status = str(run.read_run().status or variant.status)
        if run.metrics.is_file():
            metrics = run.read_metrics()
            variant.test_accuracy = to_float(metrics.test_accuracy, finite=True)
            variant.test_loss = to_float(metrics.test_loss, finite=True)
            variant.epochs = metrics.epochs_run
            variant.train_seconds = to_float(metrics.train_seconds, finite=True)
            variant.test_balanced_accuracy = to_float(getattr(metrics, "test_balanced_accuracy", None), finite=True)
            variant.test_macro_f1 = to_float(getattr(metrics, "test_macro_f1", None), finite=True)
        rows = run.history.rows()
    except CnnError as exc:
        variant.error = variant.error or str(exc)
        return
    values = [v for v in (to_float(row.val_accuracy, finite=True) for row in rows) if v is not None]
    variant.best_val_accuracy = max(values) if values else None
    if variant.epochs is None and rows:
        variant.epochs = len(rows)


def _last_error(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if line.startswith("Error:")]
    text = errors[-1] if errors else (lines[-1] if lines else "")
    return text if len(text) <= 160 else text[:157] + "..."


def write_results(variants: list[Variant], out: Path) -> None:
    keys = list(dict.fromkeys(k for v in variants for k, _ in v.settings))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*CSV_COLUMNS, *keys], lineterminator="\n")
    writer.writeheader()
    for variant in variants:
        writer.writerow({k: ("" if v is None else v) for k, v in variant.row().items()})
    (out / COMPARISON_CSV).write_text(buffer.getvalue(), encoding="utf-8")
    plot_comparison(variants, out / COMPARISON_PNG)
    from cnn_cli.reports.compare_page import write_compare_page

    write_compare_page(variants, out)  # comparison.html and comparison_curves.png


def table(variants: list[Variant]) -> str:
    """The variants' results; when their runs measured balanced accuracy and macro F1 (classes 5x or more apart,
    or calibrated), those lead."""
    head = ("variant", "status", "best val acc", "test acc", "epochs", "seconds")
    rows = [(v.label, v.status, _fmt(v.best_val_accuracy), _fmt(v.test_accuracy),
             "-" if v.epochs is None else str(v.epochs), "-" if v.seconds is None else f"{v.seconds:.1f}")
            for v in variants]
    if any(v.test_balanced_accuracy is not None for v in variants):
        head = (*head[:2], "test bal acc", "test macro F1", *head[2:])
        rows = [(*r[:2], _fmt(v.test_balanced_accuracy), _fmt(v.test_macro_f1), *r[2:]) for r, v in zip(rows, variants)]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def plot_comparison(variants: list[Variant], path: Path) -> None:
    """Bars of best validation accuracy and test accuracy per variant (failed variants marked)."""

    draw(variants, path)
