"""Resolving a config once: the YAML file, `--set` overrides and the run flags (`--epochs`, `--seed`,
`--subset`) become one frozen `Config`, validated as a whole; and the check that a resumed run's config is
the one it was started with.

The flags are overrides like `--set` ones, applied before validation, so they are checked like the file.
What the data and the run decide later (input shape, class count, seed) makes a new frozen copy through
`Config.resolved`; nothing changes a config in place. `resume_differences` is what a resume refuses.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnn_cli.config.loader import apply_overrides
from cnn_cli.config.overrides import Override, data_flag_overrides, data_shape_overrides
from cnn_cli.config.phases import last_phase_epochs
from cnn_cli.config.root import Config
from cnn_cli.config.sources import registry as sources
from cnn_cli.config.sources.manifest import data_flag_task
from cnn_cli.config.yaml_io import read_yaml
from cnn_cli.errors import ConfigError
from cnn_cli.resolve.checked_config import config_from_dict

# Keys a resume may change; every other difference from the run's config.yaml refuses the resume.
# `train.epochs` only: more epochs extend the run from its last epoch's weights and optimizer state (the
# optimizer's own learning rate, and every other key, would silently not mean what the config says on a run
# restored from its backup: the restored optimizer state holds its learning rate, the data order and the
# callbacks' counters hold the rest). A changed learning rate or data is a new run: `--init-from RUN_DIR`.
# With `train.phases`, the last phase's epochs change with `train.epochs` (the last phase takes the change).
RESUMABLE_KEYS: tuple[str, ...] = ("train.epochs",)


def choose_seed(seed: int | None) -> int:
    """The seed to use: the given one, or a fresh random one (which the run then records)."""
    return seed if seed is not None else secrets.randbelow(2**31 - 1)


@dataclass(frozen=True)
class RunFlags:
    """The command-line flags that override config keys: `--epochs`, `--seed`, `--subset`."""

    epochs: int | None = None
    seed: int | None = None
    subset: int | None = None
    data: str | None = None  # --data PATH: the source, whatever a --set data.* left; a manifest's task

    def given(self) -> bool:
        return any(v is not None for v in (self.epochs, self.seed, self.subset))

    def overrides(self, raw: Any) -> list[Override]:
        """As overrides of `raw` that name their flag in errors; `--subset` only when `raw` has a `data`
        section (else the subset is the run's, for the data given with `--data`)."""
        out = []
        if self.epochs is not None:
            out.append(Override(("train", "epochs"), self.epochs, "--epochs"))
            out += _last_phase_override(raw, self.epochs)
        if self.seed is not None:
            out.append(Override(("seed",), self.seed, "--seed"))
        if self.subset is not None and isinstance(raw, dict) and isinstance(raw.get("data"), dict):
            out.append(Override(("data", "subset"), self.subset, "--subset"))
        out += data_flag_overrides(raw, self.data)
        said = data_flag_task(raw, self.data) if self.data is not None and isinstance(raw, dict) else None
        return out + ([Override(("task",), said, "--data")] if said is not None else [])


def _last_phase_override(raw: Any, epochs: int) -> list[Override]:
    """With `train.phases`, `--epochs N` is the run's total: the last phase takes what the others leave."""

    found = last_phase_epochs(raw.get("train") if isinstance(raw, dict) else None, epochs)
    if found is None:
        return []
    index, count = found
    if count < 1:
        before = epochs - count
        raise ConfigError("--epochs", "train.epochs", f"expected more than {before}: the phases before the last run "
                          f"{before} epochs (--epochs sets the total, the last phase takes the rest)", epochs)
    return [Override(("train", "phases", index, "epochs"), count, "--epochs")]


def with_flags(raw: Any, overrides: Sequence[str], flags: RunFlags, source: str, new_run: bool = False) -> Config:
    """`raw` with `--set` overrides, then the flags, validated once; an error in a value one of them set
    names that flag (`--set: train.optimizer.lr: ...`), any other the file. For a `new_run` with `--data`, the
    file's input shape and class count are left to the data (`data_shape_overrides`)."""
    flagged = flags.overrides(apply_overrides(raw, overrides) if overrides else raw)
    shaped = data_shape_overrides(raw, flags.data) if new_run else []
    return config_from_dict(raw, source, [*shaped, *overrides, *flagged])


def load_resolved(path: str, overrides: Sequence[str] = (), flags: RunFlags = RunFlags(), new_run: bool = False) -> Config:
    """The config file at `path` with `--set` overrides and flags applied, validated and frozen."""
    return with_flags(read_yaml(path), overrides, flags, str(path), new_run=new_run)


def config_differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted key paths where two dumped configs differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in list(a) + [k for k in b if k not in a]:
            out += config_differences(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += config_differences(x, y, f"{prefix}[{i}]")
        return out
    return [] if a == b else [prefix or "(whole config)"]


def resume_differences(saved: Config, given: Config) -> list[str]:
    """The dotted keys where `given` differs from a run's own config (`saved`), outside `RESUMABLE_KEYS`; what
    the run decided (input shape, class count, seed) is taken from `saved` where `given` leaves it open."""
    filled = given.resolved(
        input_shape=saved.model.input_shape if given.model.input_shape is None else None,
        num_classes=saved.model.num_classes if given.model.num_classes is None else None,
        seed=saved.seed if given.seed is None else None,
    )
    diff = config_differences(saved.model_dump(mode="json"), filled.model_dump(mode="json"))
    last = [f"train.phases[{len(saved.train.phases) - 1}].epochs"] if saved.train.phases else []
    return [key for key in diff if not any(key == k or key.startswith(k + ".") for k in RESUMABLE_KEYS)
            and key not in last]  # the last phase's epochs change with train.epochs


def with_epochs(config: Config, epochs: int, source: str) -> Config:
    """A frozen copy of a run's `config` planned for `epochs` epochs (an extension), validated again."""
    raw = dump_config(config)
    raw["train"]["epochs"] = int(epochs)
    for override in _last_phase_override(raw, int(epochs)):  # with phases, the last one takes the change
        raw["train"]["phases"][override.path[2]]["epochs"] = override.value
    return config_from_dict(raw, source)


def dump_config(config: Config) -> dict:
    """The resolved config as plain data, every default written out -- except where a source's keys say
    otherwise (`SourceSchema.dumped`: of `data.npz_keys`, only the keys the user gave are kept, as the data
    loader treats a given key as a split that must exist)."""
    raw = config.model_dump(mode="json")
    if config.data is not None:
        sources.dumped(config.data, raw["data"])
    return raw
