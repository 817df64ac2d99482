"""`train.lr_schedule` as a Keras `LearningRateSchedule` of the optimizer, in steps: Keras' own schedules where
they fit (PiecewiseConstantDecay, ExponentialDecay, CosineDecay with its linear warmup), the tool's `OneCycle`
for the triangular one.

The schedule reads the optimizer's step counter (`iterations`), which the run's backup keeps, so a resumed run
goes on at the step where it stopped.
"""

from __future__ import annotations

import keras

from cnn_cli.config.schedule import Cosine, Exponential, LrSchedule, OneCycle, Step


def steps_per_epoch(examples: int, batch_size: int) -> int:
    return max(1, -(-int(examples) // int(batch_size)))


def make_schedule(schedule: LrSchedule | None, rate: float, *, per_epoch: int, epochs: int):
    """The learning rate for the optimizer: `rate` itself (no schedule, or constant) or a schedule whose peak is
    `rate`, over `epochs` epochs of `per_epoch` steps."""
    total = per_epoch * epochs

    def steps(value: float) -> int:
        return int(round(value * per_epoch))

    S = keras.optimizers.schedules
    if isinstance(schedule, Step):
        return S.PiecewiseConstantDecay([steps(b) for b in schedule.boundaries], list(schedule.values))
    if isinstance(schedule, Exponential):
        return S.ExponentialDecay(rate, decay_steps=max(1, steps(schedule.decay_epochs)),
                                  decay_rate=schedule.decay_rate, staircase=schedule.staircase)
    if isinstance(schedule, Cosine):
        warm = min(steps(schedule.warmup_epochs), total - 1)
        if warm <= 0:
            return S.CosineDecay(rate, decay_steps=max(1, total), alpha=schedule.final_fraction)
        return S.CosineDecay(rate * schedule.warmup_start, decay_steps=max(1, total - warm),
                             alpha=schedule.final_fraction, warmup_target=rate, warmup_steps=warm)
    if isinstance(schedule, OneCycle):
        from cnn_cli.layers.custom.one_cycle import OneCycle as Triangle

        return Triangle(rate, total, int(round(schedule.peak_at * total)), start=rate * schedule.start_fraction,
                        final=rate * schedule.final_fraction)
    return rate


def planned_schedule(schedule: LrSchedule | None, rate: float, *, per_epoch: int, epochs: int,
                     plans: list[tuple[int, int]] = ()):
    """`make_schedule` as the run planned it: `plans` are (epochs planned, epoch it stood at) of each change of
    length, oldest first (extensions, a time limit's plan); the schedule is made over the first plan's epochs,
    and at each change a one-cycle or cosine schedule past its peak anneals from the rate where it stands to its
    final rate at the new end (`Continued`: no new warm-up). Before its peak, a change re-plans it whole over the
    new length (its warm-up goes on to the new peak)."""
    if not plans or not isinstance(schedule, (OneCycle, Cosine)):
        return make_schedule(schedule, rate, per_epoch=per_epoch, epochs=epochs)
    from cnn_cli.layers.custom.continued_schedule import Continued

    lengths = [planned for planned, _ in plans] + [epochs]
    current = make_schedule(schedule, rate, per_epoch=per_epoch, epochs=lengths[0])
    for (planned, at), new in zip(plans, lengths[1:]):
        peak = (schedule.peak_at * planned if isinstance(schedule, OneCycle) else schedule.warmup_epochs)
        if at <= peak:
            current = make_schedule(schedule, rate, per_epoch=per_epoch, epochs=new)  # still warming up
            continue
        step = at * per_epoch
        value = float(keras.ops.convert_to_numpy(current(step)))
        final = rate * schedule.final_fraction
        current = Continued(current, step, new * per_epoch, value, final,
                            "linear" if isinstance(schedule, OneCycle) else "cosine")
    return current


def describe_plan(schedule: LrSchedule | None, rate: float, *, per_epoch: int, epochs: int,
                  plans: list[tuple[int, int]]) -> str | None:
    """One line on the last change of length: where the schedule stands and where it now ends."""
    if not plans or not isinstance(schedule, (OneCycle, Cosine)):
        return None
    made = planned_schedule(schedule, rate, per_epoch=per_epoch, epochs=epochs, plans=plans)
    planned, at = plans[-1]
    now = float(keras.ops.convert_to_numpy(made(at * per_epoch)))
    end = float(keras.ops.convert_to_numpy(made(epochs * per_epoch)))
    if at >= planned and abs(now - end) <= 1e-9 + 1e-6 * rate:
        return (f"the {schedule.type} schedule had ended at epoch {planned} (learning rate {now:.3g}): the added "
                f"epochs train at that rate, with no new warm-up; --init-from the run starts a new cycle")
    return (f"the {schedule.type} schedule re-planned over {epochs} epochs from epoch {at}: learning rate {now:.3g} "
            f"there, {end:.3g} at the end (no new warm-up)")


def timed_schedule(schedule: LrSchedule, rate: float, *, per_epoch: int, epochs: int, plan: dict | None = None):
    """A one-cycle or cosine schedule that a time limit can shorten while it runs (`Planned`), with the run's
    recorded `plan` (run.json `time_plan`) applied; None for other schedules."""
    from cnn_cli.layers.custom.planned_schedule import Planned

    total = per_epoch * epochs
    if isinstance(schedule, OneCycle):
        made = Planned(rate * schedule.start_fraction, rate, rate * schedule.final_fraction,
                       int(round(schedule.peak_at * total)), total)
    elif isinstance(schedule, Cosine):
        warm = min(int(round(schedule.warmup_epochs * per_epoch)), total - 1)
        made = Planned(rate * schedule.warmup_start if warm > 0 else rate, rate, rate * schedule.final_fraction,
                       max(warm, 0), total, shape="cosine")
    else:
        return None
    if plan is not None and plan.get("epochs", epochs) < epochs:
        shorten(made, schedule, per_epoch=per_epoch, epochs=int(plan["epochs"]), at=int(plan["at_epoch"]))
    return made


def shorten(made, schedule: LrSchedule, *, per_epoch: int, epochs: int, at: int) -> None:
    """Re-plans `made` (`Planned`) to end at `epochs`, standing at epoch `at`: before the new peak, its warm-up
    goes on to the new (earlier) peak; past it, it anneals from the rate where it stands to the end."""
    total, step = epochs * per_epoch, at * per_epoch
    peak = int(round(schedule.peak_at * total)) if isinstance(schedule, OneCycle) else int(made.peak_step.numpy())
    if step < peak:
        made.replan(total=total, peak_step=peak)
    else:
        made.replan(total=total, from_step=step, from_value=float(keras.ops.convert_to_numpy(made(step))))


def make_optimizer(optimizer_cfg, schedule: LrSchedule | None, *, per_epoch: int, epochs: int,
                   plans: list[tuple[int, int]] = (), timed: bool = False, time_plan: dict | None = None):
    """The config's optimizer with its learning rate, or the schedule built on it (Keras' default rate for
    the optimizer when the config gives none); `plans`: the run's changes of length (`planned_schedule`);
    `timed`: a schedule a time limit can shorten (`timed_schedule`, with the run's `time_plan`). The schedule
    made is `optimizer.cnn_schedule` (None without one)."""
    args = optimizer_cfg.arguments()
    plain = keras.optimizers.get({"class_name": optimizer_cfg.name, "config": args})
    if schedule is None or schedule.type == "constant":
        plain.cnn_schedule = None
        return plain
    rate = float(keras.ops.convert_to_numpy(plain.learning_rate))
    made = timed_schedule(schedule, rate, per_epoch=per_epoch, epochs=epochs, plan=time_plan) \
        if timed and not plans else None
    if made is None:
        made = planned_schedule(schedule, rate, per_epoch=per_epoch, epochs=epochs, plans=plans)
    args["learning_rate"] = made
    optimizer = type(plain)(**args)
    optimizer.cnn_schedule = made
    return optimizer
