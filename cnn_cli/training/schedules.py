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


def make_optimizer(optimizer_cfg, schedule: LrSchedule | None, *, per_epoch: int, epochs: int):
    """The config's optimizer with its learning rate, or the schedule built on it (Keras' default rate for
    the optimizer when the config gives none)."""
    args = optimizer_cfg.arguments()
    plain = keras.optimizers.get({"class_name": optimizer_cfg.name, "config": args})
    if schedule is None or schedule.type == "constant":
        return plain
    rate = float(keras.ops.convert_to_numpy(plain.learning_rate))
    args["learning_rate"] = make_schedule(schedule, rate, per_epoch=per_epoch, epochs=epochs)
    return type(plain)(**args)
