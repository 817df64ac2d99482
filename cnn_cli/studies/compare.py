"""Comparing configs: one training run per combination of `--vary key.path=v1,v2,...` values.

Every variant is trained by `cnn train` in its own subprocess (which keeps Keras' global state apart),
with the same config, seed, data, subset and epochs, and `--set key.path=value` for its values; its run
directory is `OUT/<variant>` and its console output `OUT/<variant>.log`. The results (from each run's
metrics.json and history.csv) are collected into `OUT/comparison.csv` and a bar chart
`OUT/comparison.png`, with the training curves overlaid in `OUT/comparison_curves.png` and all of it on
one page, `OUT/comparison.html`. A variant that fails is listed with its status; the others are kept.

The figures are the task's (`Task.FIGURES`): classification's best validation and test accuracy, a multi-label
run's micro F1 and mAP, a regression's MAE (lower is better) and R²; the variants are ranked by the headline's
validation figure (its test figure when no variant has one). Variants of different tasks are refused.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnn_cli import tasks
from cnn_cli.config.overrides import parse_key
from cnn_cli.config.train import monitor_mode
from cnn_cli.data.splits import fold_problem
from cnn_cli.errors import CnnError, ConfigError
from cnn_cli.number_format import to_float
from cnn_cli.reports.plots import plot_comparison as draw
from cnn_cli.resolve import load_config
from cnn_cli.resolve.run_config import RunFlags, choose_seed, load_resolved
from cnn_cli.rundir import default_run_dir
from cnn_cli.rundir.run_dir import RunDir

COMPARISON_CSV = "comparison.csv"
COMPARISON_PNG = "comparison.png"
MAX_VARIANTS = 64
CSV_COLUMNS = ("variant", "status", "rank", "test_loss", "epochs", "seconds", "train_seconds", "run_dir", "error")
"""comparison.csv's columns beside the task's figures (after `rank`) and the varied keys (last)."""
FOLD_COLUMNS = ("folds", "best_val_accuracy_std", "test_accuracy_std", "fold_best_val_accuracy")
"""comparison.csv's columns of a compare with --folds: best_val_accuracy and test_accuracy are then the means
over the folds, these their standard deviations and each fold's best validation accuracy."""


@dataclass(frozen=True)
class Column:
    """One figure of the comparison: its key (comparison.csv, --json), its words (the page) and its short words
    (the printed table)."""

    key: str
    words: str
    short: str


@dataclass(frozen=True)
class Figures:
    """What a comparison of runs of `task` shows: the figures' columns, the first the one it ranks by when a
    variant has it (else the second, the headline's test figure), and which way is better."""

    task: str
    columns: tuple[Column, ...]
    lower_is_better: bool

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)

    @property
    def headline(self) -> str:
        """The words of the headline figure (the bar chart's axis): accuracy, micro F1, MAE."""
        return self.columns[1].words.removeprefix("test ")


IMBALANCE = (Column("test_balanced_accuracy", "test balanced accuracy", "test bal acc"),
             Column("test_macro_f1", "test macro F1", "test macro F1"))
IMBALANCE_KEYS = tuple(c.key for c in IMBALANCE)
"""Figures a classification run records when its classes are 5x or more apart in size (or it is calibrated)."""


def with_imbalance(figures: Figures, variants: list[Variant]) -> Figures:
    """The figures, with balanced accuracy and macro F1 beside them when any variant's run recorded them."""
    if figures.task != "classification" or not any(v.values.get(IMBALANCE_KEYS[0]) is not None for v in variants):
        return figures
    return dataclasses.replace(figures, columns=(*figures.columns, *IMBALANCE))


def figures_of(task_name: str) -> Figures:
    """The comparison's figures of a task: the headline's validation figure (classification: the best epoch's of
    history.csv), then every figure of the test split (`Task.FIGURES`)."""
    task = tasks.lookup(task_name)
    names = list(task.FIGURES.items())
    head, words = names[0]
    short = {"accuracy": "acc"}.get(head, words)
    val = Column(f"best_val_{head}", f"best val {words}", f"best val {short}") if task.BEST_FROM_HISTORY \
        else Column(f"val_{head}", f"val {words}", f"val {short}")
    tests = tuple(Column(f"test_{key}", f"test {w}", f"test {short if key == head else w}") for key, w in names)
    return Figures(task.NAME, (val, *tests), monitor_mode(head) == "min")


@dataclass
class Vary:
    key: str
    values: list[str]


@dataclass
class Variant:
    name: str  # folder name under OUT
    settings: list[tuple[str, str]]  # (key.path, value text)
    status: str = "pending"
    task: str = ""  # metrics.json's (empty until the run has written it)
    values: dict[str, float | None] = field(default_factory=dict)  # the task's figures (`Figures.keys`)
    rank: int | None = None  # 1 = best by the comparison's ranking figure; None: has none
    test_loss: float | None = None
    epochs: int | None = None
    seconds: float | None = None
    train_seconds: float | None = None
    run_dir: str = ""
    error: str = ""
    folds: list[Variant] | None = None  # --folds K: one run per fold (their results summed up in this one's)
    best_val_accuracy_std: float | None = None
    test_accuracy_std: float | None = None
    short: str = ""  # the legend's label: only the keys that differ between the variants, named short (`short_labels`)
    test_balanced_accuracy: float | None = None  # an imbalanced or calibrated run's (metrics.json)
    test_macro_f1: float | None = None

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.settings)

    @property
    def overrides(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.settings]

    @property
    def best_val_accuracy(self) -> float | None:
        return self.values.get("best_val_accuracy")

    @property
    def test_accuracy(self) -> float | None:
        return self.values.get("test_accuracy")

    def row(self, figures: Figures) -> dict:
        """comparison.csv's row (and --json's entry, with the settings under `settings`)."""
        folds = {} if self.folds is None else {
            "folds": len(self.folds), "best_val_accuracy_std": self.best_val_accuracy_std,
            "test_accuracy_std": self.test_accuracy_std,
            "fold_best_val_accuracy": " ".join("" if f.best_val_accuracy is None else f"{f.best_val_accuracy:.6g}"
                                               for f in self.folds)}
        return {"variant": self.label, "status": self.status, "rank": self.rank,
                **{key: self.values.get(key) for key in figures.keys}, "test_loss": self.test_loss,
                "epochs": self.epochs, "seconds": self.seconds, "train_seconds": self.train_seconds,
                "run_dir": self.run_dir, "error": self.error, **folds, **{k: v for k, v in self.settings}}


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
    for variant, short in zip(variants, short_labels(variants)):
        variant.short = short
    return variants


def short_labels(variants: Sequence[Variant]) -> list[str]:
    """Each variant's label for legends: only the keys whose values differ between the variants, each named by
    its last part (`learning_rate=0.001, batch_size=32`; more of its path where two last parts are alike), the
    values shortened; unique, since the grid's combinations are."""
    keys = list(dict.fromkeys(k for v in variants for k, _ in v.settings))
    differ = [k for k in keys if len({dict(v.settings).get(k) for v in variants}) > 1] or keys[:1]
    names = {}
    for depth in range(1, 1 + max((len(k.split(".")) for k in differ), default=1)):
        names = {k: ".".join(k.split(".")[-depth:]) for k in differ}
        if len(set(names.values())) == len(names):
            break

    def value(text: str) -> str:
        return text if len(text) <= 18 else text[:17] + "…"

    return [", ".join(f"{names[k]}={value(dict(v.settings)[k])}" for k in differ if k in dict(v.settings)) or v.label
            for v in variants]


def figures_line(variant: Variant, figures: Figures) -> str:
    """A finished variant's figures, as the progress line shows them (`best val acc 0.9120, test acc 0.9050`)."""
    return ", ".join(f"{c.short} {value:.4f}" for c in figures.columns
                     if (value := variant.values.get(c.key)) is not None)


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
    folds: int | None = None  # k-fold cross-validation of each variant (`data.fold`)


@dataclass
class Comparison:
    """A finished comparison: its folder, the variants (in the grid's order) and the figures it shows."""

    folder: Path
    variants: list[Variant]
    figures: Figures

    def ranked(self) -> list[Variant]:
        """The variants best first (those without the ranking figure last, in the grid's order)."""
        return sorted(self.variants, key=lambda v: (v.rank is None, v.rank or 0))

    def to_dict(self) -> dict:
        f = self.figures
        return {"task": f.task, "ranked_by": self.ranked_by, "lower_is_better": f.lower_is_better,
                "out": str(self.folder), "figures": list(f.keys),
                "variants": [{**{k: v for k, v in variant.row(f).items() if k not in dict(variant.settings)},
                              "settings": dict(variant.settings)} for variant in self.variants]}

    @property
    def ranked_by(self) -> str | None:
        return ranking_key(self.variants, self.figures)


def ranking_key(variants: list[Variant], figures: Figures) -> str | None:
    """The figure the variants are ranked by: the headline's validation figure, else its test figure, else none."""
    for key in figures.keys[:2]:
        if any(v.values.get(key) is not None for v in variants):
            return key
    return None


def rank(variants: list[Variant], figures: Figures) -> None:
    """Sets each complete variant's `rank` by `ranking_key` (1 = best; equal figures share a rank); None without it
    (and for a variant that did not complete)."""
    key = ranking_key(variants, figures)
    values = [v.values.get(key) if key and v.status == "complete" else None for v in variants]
    known = [x for x in values if x is not None]
    for variant, x in zip(variants, values):
        better = [y for y in known if (y < x if figures.lower_is_better else y > x)] if x is not None else []
        variant.rank = None if x is None else 1 + len(better)


def task_of_variants(configs: list, variants: list[Variant]) -> str:
    """The task every variant's config has; variants of different tasks have no figure in common: CnnError."""
    found = {tasks.of(c).NAME for c in configs}
    if len(found) > 1:
        by = {tasks.of(c).NAME: v.label for c, v in zip(configs, variants)}
        raise CnnError("--vary: the variants are of different tasks (" + ", ".join(f"{t} for {v}" for t, v in by.items())
                       + "), which share no figure to compare; compare variants of one task")
    return found.pop()


def compare(opts: CompareOptions, echo: Callable[[str], None] = print) -> Comparison:
    variants = make_variants([parse_vary(v) for v in opts.varies])
    base = load_config(opts.config_path, opts.overrides)
    # every variant's config must be valid before anything is trained
    configs = [load_config(opts.config_path, opts.overrides, variant.overrides) for variant in variants]
    figures = figures_of(task_of_variants(configs, variants))
    if opts.folds is not None:
        check_folds(opts.folds, opts.config_path, opts.overrides, subset=opts.subset, data_path=opts.data_path)
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

    folds = f", {opts.folds} folds each" if opts.folds is not None else ""
    echo(f"Comparing {len(variants)} variants of {opts.config_path} (seed {seed}{folds}) in {out}")
    try:
        for number, variant in enumerate(variants, 1):
            echo(f"[{number}/{len(variants)}] {variant.label} ...")
            if opts.folds is not None:
                run_folds(variant, opts, seed, out, figures,
                          echo=lambda line, n=number: echo(f"[{n}/{len(variants)}] {line}"))
            else:
                run_variant(variant, opts, seed, out, figures)
            said = figures_line(variant, figures)
            echo(f"[{number}/{len(variants)}] {variant.label}: {variant.status}"
                 + (f", {said}" if said else "")
                 + (f" in {variant.seconds:.1f}s" if variant.seconds is not None else "")
                 + (f" -- {variant.error}" if variant.error else ""))
    except KeyboardInterrupt:
        for variant in variants:
            if variant.status in ("pending", "running"):
                variant.status = "interrupted"
        write_results(variants, out, _figures_run(variants, figures))
        raise
    figures = _figures_run(variants, figures)
    write_results(variants, out, figures)
    return Comparison(out, variants, figures)


def _figures_run(variants: list[Variant], planned: Figures) -> Figures:
    """The figures of the task the runs recorded (metrics.json's `task`: data given with --data may say it),
    else the configs'; variants that recorded different tasks: CnnError."""
    found = {v.task for v in variants if v.task}
    if len(found) > 1:
        raise CnnError("the variants' runs are of different tasks (" + ", ".join(sorted(found)) + "); see their "
                       "metrics.json")
    return figures_of(found.pop()) if found and found != {planned.task} else planned


def check_folds(folds: int, config_path: str, overrides: Sequence[str], *, subset: int | None = None,
                data_path: str | None = None) -> None:
    """`--folds K` refused in one line before anything trains: a task other than classification, or a training
    split (after the subset) with a class of fewer than K examples (stratified) or fewer examples than K. The
    labels are read as a run reads them (an image folder is decoded into the cache the runs then share)."""
    from cnn_cli.data import load_dataset

    config = load_resolved(config_path, overrides, RunFlags(subset=subset, data=data_path))
    task = tasks.of(config).NAME
    if task != "classification":
        raise CnnError(f"--folds {folds}: k-fold cross-validation is for classification, and {config_path} has "
                       f"task: {task}")
    fold = {"folds": folds, "number": 1}
    config = load_resolved(config_path, [*overrides, f"data.fold={fold}"], RunFlags(subset=subset, data=data_path))
    try:
        dataset = load_dataset(config, data_path=data_path, subset=subset, source=config_path)
    except ConfigError as exc:
        if exc.path == "data.fold.folds":
            raise CnnError(f"--folds {folds}: {exc.expected}") from None
        raise
    labels = dataset.labels[np.concatenate([dataset.train, dataset.validation])]
    problem = fold_problem(labels, folds, config.data.stratify)
    if problem is not None:
        raise CnnError(f"--folds {folds}: {problem}")


def run_folds(variant: Variant, opts: CompareOptions, seed: int, out: Path, figures: Figures,
              echo: Callable[[str], None]) -> None:
    """The variant's K runs, OUT/<variant>/fold-<i> (logs beside them), each validating on fold i of the
    training split; the variant's figures are then their means (and standard deviations)."""
    count = int(opts.folds or 0)
    (out / variant.name).mkdir(parents=True, exist_ok=True)
    variant.folds = [Variant(name=f"{variant.name}/fold-{i}",
                             settings=[*variant.settings, ("data.fold", f"{{folds: {count}, number: {i}}}")])
                     for i in range(1, count + 1)]
    variant.run_dir = str(out / variant.name)
    variant.status = "running"
    for i, fold in enumerate(variant.folds, 1):
        run_variant(fold, opts, seed, out, figures)
        echo(f"fold {i}/{count}: {fold.status}" + (f", best val acc {fold.best_val_accuracy:.4f}"
                                                    if fold.best_val_accuracy is not None else "")
             + (f" -- {fold.error}" if fold.error else ""))
    summarize_folds(variant)


def summarize_folds(variant: Variant) -> None:
    """The variant's status (complete when every fold is) and its figures: means and standard deviations
    (population, numpy's default) over the folds that have them; epochs and seconds summed."""
    folds = variant.folds or []
    failed = [f for f in folds if f.status != "complete"]
    variant.status = "complete" if not failed else failed[0].status
    variant.error = "; ".join(f"{f.name}: {f.error}" for f in failed if f.error)

    def mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
        held = [v for v in values if v is not None]
        if not held or len(held) < len(values):
            return None, None
        return float(np.mean(held)), float(np.std(held))

    variant.values["best_val_accuracy"], variant.best_val_accuracy_std = mean_std([f.best_val_accuracy for f in folds])
    variant.values["test_accuracy"], variant.test_accuracy_std = mean_std([f.test_accuracy for f in folds])
    variant.task = next((f.task for f in folds if f.task), variant.task)
    variant.test_loss = mean_std([f.test_loss for f in folds])[0]
    variant.epochs = sum(f.epochs or 0 for f in folds) or None
    variant.seconds = round(sum(f.seconds or 0 for f in folds), 2)
    variant.train_seconds = round(sum(f.train_seconds or 0 for f in folds), 3)


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


def run_variant(variant: Variant, opts: CompareOptions, seed: int, out: Path, figures: Figures | None = None) -> None:
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
    collect(variant, run_dir, figures)
    if not run_dir.exists():  # failed before it made its run directory
        variant.run_dir = ""
    if code != 0:
        variant.status = {3: "diverged", 130: "interrupted"}.get(code, f"failed (exit {code})")
        if not variant.error:
            variant.error = _last_error(log)
    elif variant.status != "complete":
        variant.status = variant.status if variant.status != "running" else "failed (no run.json)"


def collect(variant: Variant, run_dir: Path, figures: Figures | None = None) -> None:
    """Fills the variant's results from its run directory (whatever is there, read through the schemas; a
    damaged file becomes the variant's error): the figures of its task (metrics.json's, else `figures`'), each
    from metrics.json (`val_mae`, `test_micro_f1`, ...), a best validation figure from history.csv."""

    run = RunDir(run_dir)
    if not run.is_run():  # failed before it wrote run.json: the log tells why
        return
    try:
        variant.status = str(run.read_run().status or variant.status)
        metrics = run.read_metrics() if run.metrics.is_file() else None
        if metrics is not None:
            variant.task = metrics.task or tasks.DEFAULT
            figures = figures_of(variant.task)
            recorded = metrics.model_dump()
            for key in figures.keys:
                if not key.startswith("best_"):
                    variant.values[key] = to_float(recorded.get(key), finite=True)
            variant.test_loss = to_float(metrics.test_loss, finite=True)
            variant.epochs = metrics.epochs_run
            variant.train_seconds = to_float(metrics.train_seconds, finite=True)
            variant.test_balanced_accuracy = to_float(getattr(metrics, "test_balanced_accuracy", None), finite=True)
            variant.test_macro_f1 = to_float(getattr(metrics, "test_macro_f1", None), finite=True)
            for key in IMBALANCE_KEYS:  # an imbalanced or calibrated classification run's (metrics.json)
                if getattr(variant, key) is not None:
                    variant.values[key] = getattr(variant, key)
        rows = run.history.rows()
    except CnnError as exc:
        variant.error = variant.error or str(exc)
        return
    figures = figures or figures_of(tasks.DEFAULT)
    for key in figures.keys:
        if key.startswith("best_"):  # the best epoch's of history.csv (classification's accuracy)
            column = key.removeprefix("best_")
            values = [v for v in (to_float(row.model_dump().get(column), finite=True) for row in rows) if v is not None]
            variant.values[key] = (min if figures.lower_is_better else max)(values) if values else None
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


def write_results(variants: list[Variant], out: Path, figures: Figures | None = None) -> None:
    figures = with_imbalance(figures or figures_of(tasks.DEFAULT), variants)
    rank(variants, figures)
    keys = list(dict.fromkeys(k for v in variants for k, _ in v.settings))
    columns = [*CSV_COLUMNS[:3], *figures.keys, *CSV_COLUMNS[3:]]
    buffer = io.StringIO()
    folds = FOLD_COLUMNS if any(v.folds is not None for v in variants) else ()
    writer = csv.DictWriter(buffer, fieldnames=[*columns, *folds, *keys], lineterminator="\n")
    writer.writeheader()
    for variant in variants:
        writer.writerow({k: ("" if v is None else v) for k, v in variant.row(figures).items()})
    (out / COMPARISON_CSV).write_text(buffer.getvalue(), encoding="utf-8")
    columns_drawn = [(c.key, c.words) for c in figures.columns]
    draw(variants, out / COMPARISON_PNG, columns_drawn, figures.headline)
    from cnn_cli.reports.compare_page import write_compare_page

    # comparison.html and comparison_curves.png
    write_compare_page(variants, out, columns_drawn, figures.headline, ranked_by=_ranked_words(variants, figures))


def _ranked_words(variants: list[Variant], figures: Figures) -> str:
    """`ranked by val MAE (lower is better)`, or "" when no variant has a figure to rank by."""
    key = ranking_key(variants, figures)
    if key is None:
        return ""
    words = next(c.words for c in figures.columns if c.key == key)
    return f"ranked by {words} ({'lower' if figures.lower_is_better else 'higher'} is better)"


def table(comparison: Comparison) -> str:
    """The printed table, best first: variant, status, rank, the task's figures, epochs, seconds."""
    if any(v.folds is not None for v in comparison.variants):
        return _folds_table(comparison.ranked())
    figures = with_imbalance(comparison.figures, comparison.variants)
    head = ("variant", "status", "rank", *(c.short for c in figures.columns), "epochs", "seconds")
    rows = [(v.label, v.status, "-" if v.rank is None else str(v.rank), *(_fmt(v.values.get(k)) for k in figures.keys),
             "-" if v.epochs is None else str(v.epochs), "-" if v.seconds is None else f"{v.seconds:.1f}")
            for v in comparison.ranked()]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    said = _ranked_words(comparison.variants, figures)
    return "\n".join([*(line.rstrip() for line in lines), *([f"({said}; best first)"] if said else [])])


def _folds_table(variants: list[Variant]) -> str:
    """With --folds: each variant's best validation accuracy, mean and standard deviation over its folds, and
    each fold's; the test accuracy's mean and standard deviation."""
    head = ("variant", "status", "folds", "best val acc mean", "std", "per fold", "test acc mean", "std", "seconds")
    rows = [(v.label, v.status, str(len(v.folds or [])), _fmt(v.best_val_accuracy), _fmt(v.best_val_accuracy_std),
             " ".join(_fmt(f.best_val_accuracy) for f in v.folds or []), _fmt(v.test_accuracy),
             _fmt(v.test_accuracy_std), "-" if v.seconds is None else f"{v.seconds:.1f}") for v in variants]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i in (0, 1, 5) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def plot_comparison(variants: list[Variant], path: Path, figures: Figures | None = None) -> None:
    """Bars of the task's figures per variant (failed variants marked)."""
    figures = figures or figures_of(tasks.DEFAULT)
    draw(variants, path, [(c.key, c.words) for c in figures.columns], figures.headline)
