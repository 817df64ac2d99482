"""`train.freeze` and `train.phases`: which layers train, and a run in phases (head first, then everything at
a lower rate), in pure Python.

A run without `train.phases` is one phase: every epoch, `train.freeze`, the optimizer's rate and
`train.lr_schedule`. With phases, `train.epochs` is their sum (filled in when left out); `--epochs N` (and an
extension `--resume RUN --epochs N`) sets the total and the last phase takes the rest (`last_phase_epochs`).
Which layers a freeze covers needs the model's graph: `cnn_cli.model.freeze`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field, model_validator

from cnn_cli.config.schedule import LrSchedule
from cnn_cli.config.section import Section


class Freeze(Section):
    """Layers that do not train: every layer up to and including `until`, in the order `cnn summary` lists them
    (a block's name covers all its parts), or the first `fraction` of the layers with weights. Batch norms among
    them run in inference mode: their moving mean and variance stay as they are."""

    until: str | None = Field(
        None, min_length=1, description="The last frozen layer: a name as cnn summary lists it (a block's part, or "
        "a block's name for all of it).")
    fraction: float | None = Field(
        None, gt=0, lt=1, description="Freeze the first fraction of the layers that have weights (0.8: the first 80%).")

    @model_validator(mode="after")
    def _one(self):
        if (self.until is None) == (self.fraction is None):
            raise ValueError("expected one of until (a layer name) or fraction (of the layers with weights)")
        return self

    def describe(self) -> str:
        return f"until {self.until}" if self.until is not None else f"fraction {self.fraction:g}"


class Phase(Section):
    """Some epochs of the run with their own frozen layers and learning rate, on a fresh optimizer (its moments
    start at zero, as a recompile does in Keras' fine-tuning guide)."""

    epochs: int = Field(gt=0, description="Epochs of this phase; the run's epochs are the phases' sum.")
    freeze: Freeze | None = Field(None, description="Layers frozen in this phase; without it every layer trains.")
    learning_rate: float | None = Field(
        None, gt=0, description="The optimizer's rate in this phase (default: train.optimizer.learning_rate).")
    lr_schedule: LrSchedule | None = Field(
        None, description="The rate over this phase's epochs, its peak learning_rate (as train.lr_schedule is over "
        "the run's).")


def fill_epochs(value: Any) -> Any:
    """For `TrainConfig`'s before-validator: `train.epochs`, when left out, is the phases' sum."""
    if not isinstance(value, dict) or "epochs" in value or not isinstance(value.get("phases"), list):
        return value
    counts = [p.get("epochs") if isinstance(p, dict) else None for p in value["phases"]]
    if not counts or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in counts):
        return value  # the phases' own errors say what is wrong
    return {**value, "epochs": sum(counts)}


@dataclass(frozen=True)
class Span:
    """One phase of a run: epochs `start` (0-based) up to `end` (fit's `initial_epoch` and `epochs`)."""

    number: int  # 1-based
    count: int  # phases in the run
    start: int
    end: int
    freeze: Freeze | None
    learning_rate: float | None  # None: the optimizer's
    lr_schedule: Any
    path: str  # where its keys are: `train` or `train.phases[i]`

    @property
    def epochs(self) -> int:
        return self.end - self.start

    def contains(self, epoch: int) -> bool:
        return self.start <= epoch < self.end


def spans(train) -> list[Span]:
    """The run's phases: `train.phases`, or one phase of all `train.epochs` with `train.freeze`."""
    if not train.phases:
        return [Span(1, 1, 0, train.epochs, train.freeze, None, train.lr_schedule, "train")]
    out, start = [], 0
    for i, phase in enumerate(train.phases):
        out.append(Span(i + 1, len(train.phases), start, start + phase.epochs, phase.freeze, phase.learning_rate,
                        phase.lr_schedule, f"train.phases[{i}]"))
        start += phase.epochs
    return out


def span_at(all_spans: list[Span], epoch: int) -> Span:
    """The phase that runs epoch `epoch` (0-based); the last one from its end on."""
    return next((s for s in all_spans if s.contains(epoch)), all_spans[-1])


def last_phase_epochs(raw_train: Any, total: int) -> tuple[int, int] | None:
    """(index of the last phase, its epochs) when the run's total becomes `total` (`--epochs`, an extension);
    None when `raw_train` (the train section as data) has no phases. The epochs may be 0 or less: the caller
    says what that means."""
    phases = raw_train.get("phases") if isinstance(raw_train, dict) else None
    if not isinstance(phases, list) or not phases:
        return None
    before = sum(p["epochs"] for p in phases[:-1] if isinstance(p, dict) and isinstance(p.get("epochs"), int))
    return len(phases) - 1, int(total) - before
