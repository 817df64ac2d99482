"""The learning-rate range test (Smith 2017; fastai's `lr_find`): the rate rises exponentially, one training step
at a time, from 1e-7 until the loss diverges, and the smoothed loss against the rate says which rate to train
at: the steepest descent of the smoothed loss (the suggestion), with the rate of its minimum / 10 beside it.
The test stops where the smoothed loss is 4 times its lowest, or has fallen and risen back above where it began
(a classifier's loss that diverges often settles near log(classes), below 4 times its lowest).

- `range_test(model, ...)`: the test on a built model; its weights (the batch norms' statistics included) and
  which layers train are as they were afterwards; it leaves the model compiled with the test's optimizer.
- `find(opts)`: `cnn lr-find`: the config's model, data and optimizer, the test, nothing written but the PNG.
- `resolve_auto(run, ...)`: `train.optimizer.learning_rate: auto`, before the first epoch: the test's suggestion
  becomes the run's rate (a schedule's peak, where it has one), recorded in run.json as `learning_rate_found`;
  a resumed run takes the rate it recorded.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnn_cli import tasks
from cnn_cli.config.phases import spans
from cnn_cli.errors import CnnError
from cnn_cli.model.freeze import phase_freezes

START = 1e-7
END = 10.0
STEPS = 200
SMOOTHING = 0.9  # the exponential moving average of the loss, bias-corrected; forwards and backwards for the curve
DIVERGES = 4.0  # the test stops once the smoothed loss is this many times its lowest
SETTLE = 10  # steps before a divergence may stop the test (the average is still young)
FELL = 0.9  # ... or once the smoothed loss, having fallen below this fraction of its start, rises above its start


@dataclass(frozen=True)
class RangeTest:
    """The test's curve (rate, raw and smoothed loss per step), why it stopped, and the rates it suggests
    (None, with `problem` saying why, when the loss did not fall)."""

    rates: list[float]
    losses: list[float]
    smoothed: list[float]
    stopped: str
    suggested: float | None
    min_loss_rate: float | None
    problem: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"suggested_learning_rate": self.suggested, "min_loss_learning_rate": self.min_loss_rate,
                "problem": self.problem, "stopped": self.stopped, **self.settings,
                "curve": [{"learning_rate": r, "loss": s, "raw_loss": raw}
                          for r, s, raw in zip(self.rates, self.smoothed, self.losses)]}

    def to_text(self) -> str:
        lines = [f"Range test: {len(self.rates)} steps, learning rate {self.rates[0]:.3g} to {self.rates[-1]:.3g}; "
                 f"{self.stopped}"]
        if self.suggested is None:
            lines.append(f"No suggestion: {self.problem}")
        else:
            lines.append(f"Suggested learning rate: {self.suggested:.3g} (steepest descent of the smoothed loss)")
            lines.append(f"Minimum loss / 10:       {self.min_loss_rate:.3g}")
        return "\n".join(lines)


def rate_at(step: int, steps: int, start: float = START, end: float = END) -> float:
    """The rate of step `step` (0-based) of `steps`: exponential from `start` to `end`."""
    return start * (end / start) ** (step / max(1, steps - 1))


def smooth(losses: list[float], beta: float = SMOOTHING) -> list[float]:
    """The losses smoothed without lag: the bias-corrected exponential moving average run forwards, then that
    run backwards (a causal average alone lags by about 1 / (1 - beta) steps, which would move the steepest
    descent to a higher rate)."""
    def ema(values):
        out, average = [], 0.0
        for i, value in enumerate(values):
            average = beta * average + (1 - beta) * value
            out.append(average / (1 - beta ** (i + 1)))
        return out

    return ema(ema(losses)[::-1])[::-1]


def suggest(rates: list[float], smoothed: list[float]) -> tuple[float | None, float | None, str | None]:
    """(the steepest descent's rate, the minimum's rate / 10, None), or (None, None, why) when the smoothed loss
    did not fall: the steepest point is looked for between the first steps and the minimum."""
    n = len(smoothed)
    if n < 2 * SETTLE:
        return None, None, f"the loss diverged after {n} steps, before the test could say anything; lower its start"
    loss = np.asarray(smoothed, dtype=np.float64)
    low = int(np.argmin(loss))
    skip = max(2, n // 20)
    if low <= skip or loss[low] > 0.98 * loss[:skip].max():
        return None, None, (f"the smoothed loss did not fall (lowest {loss[low]:.4g} at step {low + 1}, from "
                            f"{loss[0]:.4g}): the model may not learn from these data at any of these rates")
    slope = np.gradient(loss, np.log10(np.asarray(rates, dtype=np.float64)))
    steep = skip + int(np.argmin(slope[skip:low + 1]))
    return float(rates[steep]), float(rates[low] / 10), None


def range_test(model, batch: Callable[[int, int], tuple], batches_per_epoch: int, compile_with: Callable[[float], None],
               *, steps: int = STEPS, start: float = START, end: float = END, frozen: Collection[str] = (),
               echo: Callable[[str], None] = lambda line: None) -> RangeTest:
    """Trains `model` one batch at a time (`batch(i, epoch)` gives batch i of an epoch, (x, y) or (x, y, w))
    at rates rising from `start` to `end` over `steps`, stopping where the smoothed loss diverges. The layers
    named in `frozen` do not train. `compile_with(rate)` compiles the model with the run's loss and a fresh
    optimizer at `rate`. The model's weights and trainable flags are put back afterwards."""
    import keras

    saved = model.get_weights()
    trainable = {layer.name: layer.trainable for layer in model.layers}
    rates: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    stopped = f"reached {end:g}"
    try:
        for layer in model.layers:
            layer.trainable = layer.name not in frozen
        compile_with(start)
        average, best = 0.0, math.inf
        for step in range(steps):
            rate = rate_at(step, steps, start, end)
            model.optimizer.learning_rate = rate
            epoch, i = divmod(step, batches_per_epoch)
            data = batch(i, epoch)
            weights = data[2] if len(data) > 2 else None
            out = model.train_on_batch(data[0], data[1], sample_weight=weights, return_dict=True)
            loss = float(keras.ops.convert_to_numpy(out["loss"]))
            if not math.isfinite(loss):
                stopped = f"the loss became {loss} at rate {rate:.3g}"
                break
            average = SMOOTHING * average + (1 - SMOOTHING) * loss
            value = average / (1 - SMOOTHING ** (step + 1))  # causal: what the stop watches
            rates.append(rate)
            losses.append(loss)
            smoothed.append(value)
            best = min(best, value)
            first = smoothed[min(SETTLE, len(smoothed)) - 1]
            if step >= SETTLE and value > DIVERGES * best:
                stopped = f"the loss diverged at rate {rate:.3g} ({DIVERGES:g}x its lowest)"
                break
            if step >= SETTLE and best < FELL * first and value > first:  # fell, then rose back above its start
                stopped = f"the loss diverged at rate {rate:.3g} (back above where it started)"
                break
    finally:
        for layer in model.layers:
            layer.trainable = trainable[layer.name]
        model.set_weights(saved)
    curve = smooth(losses)
    suggested, min_rate, problem = suggest(rates, curve)
    return RangeTest(rates=rates, losses=losses, smoothed=curve, stopped=stopped, suggested=suggested,
                     min_loss_rate=min_rate, problem=problem,
                     settings={"start": start, "end": end, "steps": steps, "smoothing": SMOOTHING})


def compiler(model, optimizer_cfg, loss, dist=None) -> Callable[[float], None]:
    """`compile_with(rate)` for `range_test`: the config's optimizer (its other arguments kept) at `rate`, no
    schedule, the given loss, one step per call."""
    from cnn_cli.training.schedules import make_optimizer

    def compile_with(rate: float) -> None:
        cfg = optimizer_cfg.model_copy(update={"learning_rate": rate})
        optimizer = make_optimizer(cfg, None, per_epoch=1, epochs=1)
        if dist is not None:
            with dist.scope():
                model.compile(optimizer=optimizer, loss=loss, steps_per_execution=1)
        else:
            model.compile(optimizer=optimizer, loss=loss, steps_per_execution=1)

    return compile_with


def first_frozen(config, graph, source: str) -> set[str]:
    """The layers the run's first phase freezes (`train.freeze`, or the first of `train.phases`)."""
    if spans(config.train)[0].freeze is None:
        return set()
    return set(phase_freezes(config.train, graph, source)[0][1].layers)


# ---------------------------------------------------------------- train.optimizer.learning_rate: auto


def resolve_auto(run, model, batches, loss, echo: Callable[[str], None]):
    """`run` with `train.optimizer.learning_rate` a number: the config's own, the one a resumed run recorded, or
    the range test's suggestion on `model` (built, with its starting weights) and the run's training `batches`
    (a `TrainingBatches`), recorded in run.json as `learning_rate_found`. `loss`: compile's (None: the task's)."""
    optimizer = run.config.train.optimizer
    if optimizer.learning_rate != "auto":
        return run
    found = run.record.data.get("learning_rate_found") if run.plan.resume else None
    if found is not None:
        echo(f"Learning rate: {found:.3g}, found by the range test when the run started (learning_rate: auto)")
        return _with_rate(run, float(found))
    if run.dist.describe().get("workers", 1) > 1:
        raise CnnError(f"{run.plan.source}: train.optimizer.learning_rate: auto is not supported with several "
                       "workers (each would test on its own); run cnn lr-find first and give the rate it suggests")
    echo("Learning rate: auto; a range test first ...")
    source = batches.source
    test = range_test(model, source.batch, len(source),
                      compiler(model, optimizer, loss if loss is not None else tasks.of(run.config).loss(run.config),
                               run.dist),
                      frozen=first_frozen(run.config, run.analysis.graph, run.plan.source), echo=echo)
    if test.suggested is None:
        raise CnnError(f"{run.plan.source}: train.optimizer.learning_rate: auto: the range test found no rate: "
                       f"{test.problem}; give a number")
    schedule = run.config.train.lr_schedule
    peak = f" (the peak of its {schedule.type} schedule)" if schedule is not None and schedule.type != "constant" else ""
    echo(f"Learning rate: {test.suggested:.3g}{peak}, the steepest descent of the range test's loss "
         f"({len(test.rates)} steps, {test.stopped}; minimum loss / 10: {test.min_loss_rate:.3g})")
    run.record.update(learning_rate_found=test.suggested,
                      learning_rate_test={"suggested_learning_rate": test.suggested,
                                          "min_loss_learning_rate": test.min_loss_rate, "steps": len(test.rates),
                                          "stopped": test.stopped})
    return _with_rate(run, test.suggested)


def _with_rate(run, rate: float):
    train = run.config.train
    optimizer = train.optimizer.model_copy(update={"learning_rate": rate})
    config = run.config.model_copy(update={"train": train.model_copy(update={"optimizer": optimizer})})
    return dataclasses.replace(run, config=config)
