"""`--time-limit`'s plan: a one-cycle or cosine schedule re-planned from a measured epoch time, so that it anneals
to its end where the time ends rather than being cut off at a high rate.

After the second epoch this process trains (the first one also traces the model), `TimePlan` takes that epoch's
seconds, counts the epochs that still fit in the time left and, when fewer than planned, shortens the schedule
(`schedules.shorten`: the variables of its `Planned` schedule) and records the plan in run.json (`time_plan`:
the epoch's seconds, the epoch it stood at, the epochs it now ends at), which a resume follows on any machine.
The run stops at the plan's last epoch (a resume too, with or without --time-limit), or earlier at the time
limit's own stop (`recipe.StopAt`: the first epoch end past the limit).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import keras

from cnn_cli import faults
from cnn_cli.training.schedules import shorten


class TimePlan(keras.callbacks.Callback):
    def __init__(self, *, time_limit: float | None, started: float, epochs: int, per_epoch: int, schedule_config,
                 schedule: Callable[[], object], record, echo: Callable[[str], None]):
        super().__init__()
        self.time_limit, self.started, self.epochs, self.per_epoch = time_limit, started, epochs, per_epoch
        self.schedule_config, self.schedule, self.record, self.echo = schedule_config, schedule, record, echo
        self.seen = 0
        self._began: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._began = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seen += 1
        plan = self.record.data.get("time_plan")
        if plan is not None and epoch + 1 >= plan["epochs"] and plan["epochs"] < self.epochs:
            self.model.stop_training = True  # the planned end: the schedule has annealed to its final rate
            self.echo(f"Stopped at epoch {epoch + 1}, where the time limit's plan ends its schedule")
            return
        if self.seen != 2 or self._began is None or plan is not None or self.time_limit is None:
            return
        made = self.schedule()
        if made is None or not hasattr(made, "replan"):
            return
        now = time.perf_counter()
        seconds, done = faults.epoch_seconds(now - self._began), epoch + 1
        fit = max(0, math.floor((self.time_limit - (now - self.started)) / max(seconds, 1e-6)))
        ends = min(self.epochs, done + fit)
        plan = {"epoch_seconds": round(seconds, 3), "at_epoch": done, "epochs": max(ends, done),
                "planned": self.epochs, "time_limit": self.time_limit}
        self.record.update(time_plan=plan)
        if plan["epochs"] < self.epochs:
            shorten(made, self.schedule_config, per_epoch=self.per_epoch, epochs=plan["epochs"], at=done)
            self.echo(f"Time limit of {self.time_limit:g} s: epochs take {seconds:.1f} s, so the {self.schedule_config.type} "
                      f"schedule is re-planned to end at epoch {plan['epochs']} of {self.epochs} (recorded in run.json)")
