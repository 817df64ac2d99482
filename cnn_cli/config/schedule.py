"""`train.lr_schedule`: the learning rate over the run, per step, given in epochs.

Every schedule's peak (or starting) rate is the optimizer's `learning_rate` (Keras' default for the
optimizer when none is given); `training/schedules.py` turns the section into a Keras
`LearningRateSchedule` once the number of steps per epoch is known.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from cnn_cli.config.section import Section

Epochs = Annotated[float, Field(ge=0)]


class Constant(Section):
    """The optimizer's learning rate throughout (what a config without a schedule does)."""

    type: Literal["constant"]


class Step(Section):
    """Piecewise constant: `values[i]` until epoch `boundaries[i]`, then the next (Keras' PiecewiseConstantDecay)."""

    type: Literal["step"]
    boundaries: list[Annotated[float, Field(gt=0)]] = Field(min_length=1, description="Epochs at which the rate changes, increasing.")
    values: list[Annotated[float, Field(gt=0)]] = Field(
        min_length=2, description="The rates: one more than boundaries; the first replaces the optimizer's rate.")

    @model_validator(mode="after")
    def _counts(self):
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError(f"expected {len(self.boundaries) + 1} values (one more than boundaries), got {len(self.values)}")
        if any(b <= a for a, b in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError("expected increasing boundaries")
        return self


class Exponential(Section):
    """The rate times `decay_rate` every `decay_epochs` (Keras' ExponentialDecay)."""

    type: Literal["exponential"]
    decay_rate: float = Field(gt=0, lt=1, description="Factor per decay_epochs.")
    decay_epochs: float = Field(1.0, gt=0, description="Epochs over which the rate is multiplied by decay_rate.")
    staircase: bool = Field(False, description="Change the rate in steps at whole decay_epochs.")


class Cosine(Section):
    """Linear warmup from `warmup_start` x the rate to the rate over `warmup_epochs`, then cosine decay to
    `final_fraction` x the rate at the last epoch (Keras' CosineDecay with warmup)."""

    type: Literal["cosine"]
    warmup_epochs: Epochs = Field(0.0, description="Epochs of linear warmup (fractions allowed).")
    warmup_start: float = Field(0.0, ge=0, lt=1, description="Starting rate of the warmup, as a fraction of the rate.")
    final_fraction: float = Field(0.0, ge=0, lt=1, description="Rate at the end, as a fraction of the rate.")


class OneCycle(Section):
    """One cycle, triangular: linear from `start_fraction` x the rate up to the rate at `peak_at` of the run, then
    linear down to `final_fraction` x the rate at its end (Smith's one-cycle; the fast CIFAR-10 records' shape)."""

    type: Literal["one_cycle"]
    peak_at: float = Field(0.25, gt=0, lt=1, description="Where the rate peaks, as a fraction of the run's steps.")
    start_fraction: float = Field(0.1, ge=0, le=1, description="Starting rate, as a fraction of the peak.")
    final_fraction: float = Field(0.0, ge=0, lt=1, description="Rate at the end, as a fraction of the peak.")


LrSchedule = Annotated[Union[Constant, Step, Exponential, Cosine, OneCycle], Field(discriminator="type")]  # noqa: UP007

SCHEDULES = ("constant", "step", "exponential", "cosine", "one_cycle")
