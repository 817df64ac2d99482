"""A run's phases in training (`train.phases`, or the whole run as one phase with `train.freeze`): each phase
sets which layers train, then compiles the model with a fresh optimizer of its own rate (and schedule, over
its own epochs) -- Keras takes a change of `trainable` only at compile, and the optimizer's slots belong to the
variables it was built on -- and is one `fit` call from its first epoch to its last.

- Frozen layers have `trainable = False`; a frozen `BatchNormalization` runs in inference mode (Keras 3), so
  its moving mean and variance stay as they are.
- Early stopping watches the last phase only (its patience counts from that phase's first epoch, its best
  weights are that phase's); the checkpoint's best covers the whole run; reduce-on-plateau and the weight
  average (EMA) start again with each phase's optimizer.
- A resume prepares the phase whose optimizer state the backup holds (`prepare`, called by
  `RunBackup.restore`), then goes on as an uninterrupted run does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import keras

from cnn_cli import tasks
from cnn_cli.backends import current as backend
from cnn_cli.config.phases import Span, span_at, spans
from cnn_cli.model.freeze import Frozen, phase_freezes

if TYPE_CHECKING:
    from cnn_cli.training.run_callbacks import RunCallbacks
    from cnn_cli.training.stages import PreparedRun as Run


class Phases:
    """The phases of `run` for `model`; `current` is the phase the model is compiled for (None: not yet)."""

    def __init__(self, run: Run, model, echo: Callable[[str], None] = print, loss=None):
        self.run, self.model, self.echo = run, model, echo
        self.loss = loss  # what compile gets (None: the task's loss of the config)
        self.spans = spans(run.config.train)
        self.frozen: dict[int, Frozen] = {}  # by phase number; none without phases or a freeze: all layers train
        if self.phased or self.spans[0].freeze is not None:
            self.frozen = {s.number: f for s, f in phase_freezes(run.config.train, run.analysis.graph,
                                                                  run.plan.source)}
        self.current: Span | None = None
        self.schedule = None  # the compiled optimizer's learning-rate schedule (None: a constant rate)

    @property
    def phased(self) -> bool:
        return len(self.spans) > 1

    def enter(self, span: Span, say: bool = True) -> None:
        """Sets the trainability of `span` and compiles the model with a fresh optimizer for it."""
        frozen = set(self.frozen[span.number].layers) if self.frozen else set()
        for layer in self.model.layers:
            layer.trainable = layer.name not in frozen
        self._compile(span)
        self.current = span
        if say and (self.phased or span.freeze is not None):
            self.echo(self.describe(span))

    def prepare(self, epochs_done: int) -> None:
        """For `RunBackup.restore`: the model compiled as it was when the backup of `epochs_done` epochs was
        written (the phase of its last epoch), so the backup's optimizer state fits."""
        span = span_at(self.spans, max(0, epochs_done - 1))
        if span is not self.current:
            self.enter(span, say=False)

    def _compile(self, span: Span) -> None:
        from cnn_cli.training.schedules import make_optimizer, steps_per_epoch

        run, train = self.run, self.run.config.train
        optimizer_cfg = train.optimizer
        if span.learning_rate is not None:
            optimizer_cfg = optimizer_cfg.model_copy(update={"learning_rate": span.learning_rate})
        with run.dist.scope():
            optimizer = make_optimizer(optimizer_cfg, span.lr_schedule, epochs=span.epochs,
                                       per_epoch=steps_per_epoch(len(run.dataset.train), train.batch_size),
                                       plans=self.plans(span), timed=self.timed,
                                       time_plan=run.record.data.get("time_plan") if run.record is not None else None)
            self.schedule = optimizer.cnn_schedule
            task = tasks.of(run.config)
            loss = self.loss if self.loss is not None else task.loss(run.config)
            self.model.compile(optimizer=optimizer, loss=loss, metrics=task.metrics(run.config),
                               steps_per_execution=backend().steps_per_execution(train.steps_per_execution),
                               jit_compile=train.jit_compile)

    @property
    def timed(self) -> bool:
        """Whether the schedule may be re-planned by a time limit (`time_plan.py`): a run without phases, with
        --time-limit or a plan recorded by one."""
        record = self.run.record.data if self.run.record is not None else {}
        return len(self.spans) == 1 and (self.run.plan.time_limit is not None or record.get("time_plan") is not None)

    def plans(self, span: Span) -> list[tuple[int, int]]:
        """The changes of the run's length inside `span` (run.json's `extended`: each extension's epochs planned
        before it and the epoch it stood at), relative to the span's first epoch, oldest first."""
        changes = self.run.record.data.get("extended", []) if self.run.record is not None else []
        return [(int(c["from_epochs"]) - span.start, int(c["at_epoch"]) - span.start) for c in changes
                if span.start < int(c["at_epoch"]) and int(c["from_epochs"]) > span.start]

    def plan_line(self) -> str | None:
        """How the last phase's schedule was re-planned by the run's last change of length, in words."""
        from cnn_cli.training.schedules import describe_plan, steps_per_epoch

        span, train = self.spans[-1], self.run.config.train
        plans = self.plans(span)
        if not plans or span.lr_schedule is None:
            return None
        rate = span.learning_rate if span.learning_rate is not None else train.optimizer.learning_rate
        if rate is None:
            return None
        return describe_plan(span.lr_schedule, float(rate), epochs=span.epochs, plans=plans,
                             per_epoch=steps_per_epoch(len(self.run.dataset.train), train.batch_size))

    def describe(self, span: Span) -> str:
        """`Phase 2 of 2 (epochs 3-4): every layer trains (786 params), learning rate 0.0003, a fresh optimizer`."""
        frozen = self.frozen[span.number]
        if span.freeze is None:
            what = f"every layer trains ({frozen.trainable_params:,} params)"
        else:
            key = "freeze" if self.phased else "train.freeze"
            what = (f"{len(frozen.layers)} layers frozen ({key} {span.freeze.describe()}), "
                    f"{frozen.trainable_params:,} of {frozen.total_params:,} params train")
        if not self.phased:
            return f"Frozen: {what}"
        return f"Phase {span.number} of {span.count} (epochs {span.start + 1}-{span.end}): {what}, {self._rate(span)}"

    def _rate(self, span: Span) -> str:
        """The phase's rate as its config gives it (the compiled optimizer holds a schedule's value at the
        current step, not the schedule)."""
        if span.lr_schedule is not None and span.lr_schedule.type != "constant":
            return f"learning rate on a {span.lr_schedule.type} schedule"
        rate = span.learning_rate if span.learning_rate is not None else self.run.config.train.optimizer.learning_rate
        if rate is None:  # Keras' default for the optimizer
            rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        return f"learning rate {rate:.3g}"

    # ---------------------------------------------------------------- fit, phase by phase

    def fit(self, batches, cbs: RunCallbacks, *, initial_epoch: int, validation_data, first: list, last: list) -> None:
        """`fit` over each phase from `initial_epoch` on; stops early when a callback stopped training (early
        stopping, stop_at, the time limit, a diverged loss). `first` and `last`: callbacks listed before and
        after the run's own (Ctrl-C, progress). The last phase is fitted even when it has nothing left to run,
        so that the restored callbacks say how the run ended."""
        for span in self.spans:
            final = span.number == span.count
            if span.end <= initial_epoch and not final:
                continue
            if span is not self.current:
                self.enter(span)
            elif self.phased or span.freeze is not None:  # compiled before the restore: said now
                self.echo(self.describe(span))
            cbs.history.phase = span.number if self.phased else None
            self.run.dist.fit(self.model, batches.dataset, validation_data=validation_data, epochs=span.end,
                              initial_epoch=max(initial_epoch, span.start), verbose=self.run.plan.verbose,
                              shuffle=False, callbacks=[*first, *phase_callbacks(cbs, final), *last])
            if self.model.stop_training or cbs.guard.diverged is not None:
                return

    def inside(self, epoch: int) -> bool:
        """Whether `epoch` (0-based) lies inside a phase, past its first epoch (a resume there holds the EMA
        averages in the model; at a phase's start the previous phase's final weights)."""
        return any(s.start < epoch < s.end for s in self.spans)


def phase_callbacks(cbs: RunCallbacks, final: bool) -> list:
    """The run's callbacks for one phase's `fit`: early stopping in the last phase only, and a fresh
    `SwapEMAWeights` (its averages are the fresh optimizer's)."""
    out = []
    for callback in cbs.listed:
        if callback is cbs.early and not final:
            callback.on_train_begin()  # its counters as before training, which the backup keeps meanwhile
            continue
        if isinstance(callback, keras.callbacks.SwapEMAWeights):
            callback = keras.callbacks.SwapEMAWeights(swap_on_epoch=True)
        out.append(callback)
    return out
