"""Cross-field checks of a validated config: rules that involve more than one key and need nothing but the
config (the checks that need the model's graph are in `cnn_cli.resolve.model_checks`)."""

from __future__ import annotations

from cnn_cli.config.data import check_data, source_schema
from cnn_cli.config.root import Config
from cnn_cli.errors import ConfigError
from cnn_cli.layers.registry import lookup, names


def check_config(config: Config, source: str) -> None:
    """Runs every check; the first failure raises ConfigError."""
    problems = config_problems(config, source)
    if problems:
        raise problems[0]


def config_problems(config: Config, source: str) -> list[ConfigError]:
    """The first problem each of the config's own checks finds (those that need the model's graph are
    `cnn_cli.resolve.model_checks`)."""
    problems = []
    for check in (_check_names, _check_layer_types, _check_data, _check_validation, _check_recipe,
                  _check_phases):
        try:
            check(config, source)
        except ConfigError as exc:
            problems.append(exc)
    return problems


def _check_data(config: Config, source: str) -> None:
    if config.data is not None:
        check_data(config.data, source)




def _check_phases(config: Config, source: str) -> None:
    """With phases, train.epochs is their sum, and freeze and lr_schedule are each phase's."""
    train = config.train
    if not train.phases:
        return
    counts = [p.epochs for p in train.phases]
    if train.epochs != sum(counts):
        raise ConfigError(source, "train.epochs", f"expected the sum of train.phases' epochs, {sum(counts)} "
                          f"({' + '.join(map(str, counts))}): leave it out with phases (--epochs N gives the last "
                          "phase the rest)", train.epochs)
    for key in ("freeze", "lr_schedule"):
        if getattr(train, key) is not None:
            raise ConfigError(source, f"train.{key}", f"not with train.phases: give each phase its own {key} (a phase "
                              "without one " + ("trains every layer)" if key == "freeze" else "keeps its rate)"),
                              getattr(train, key).model_dump(mode="json", exclude_none=True))


def _check_names(config: Config, source: str) -> None:
    seen: dict[str, int] = {}
    for index, layer in enumerate(config.model.layers):
        if layer.name is None or "{" in layer.name:  # copies' names ({i}, {$...}): the graph checks what they become
            continue
        if layer.name in seen:
            raise ConfigError(
                source, f"model.layers[{index}].name",
                f"expected a name not used before (model.layers[{seen[layer.name]}] has it)", layer.name,
            )
        seen[layer.name] = index


def _check_layer_types(config: Config, source: str) -> None:
    """A `type` that is no registered kind must name a block of `model.blocks`."""

    for index, layer in enumerate(config.model.layers):
        if lookup(layer.type) is None and layer.type not in config.model.blocks:
            known = ", ".join(sorted([*names(), *config.model.blocks]))
            raise ConfigError(source, f"model.layers[{index}].type", f"unknown layer type; expected one of: {known}", layer.type)


def final_units(config: Config) -> int | str | None:
    """The `units` of the last layer when it is a dense layer (the model's output count is checked on the graph,
    by the task: `cnn_cli.resolve.model_checks`)."""
    last = config.model.layers[-1]
    return getattr(last, "units", None) if last.type == "dense" else None


def counts_needed(config: Config) -> bool:
    """Whether the model takes its class (or target) count from somewhere: `num_classes`/`num_targets` in a
    layer, a block or an expression."""
    texts = [repr(layer.model_dump()) for layer in config.model.layers]
    texts += [repr(block.model_dump()) for block in config.model.blocks.values()]
    return any("num_classes" in text or "num_targets" in text for text in texts)


def _check_validation(config: Config, source: str) -> None:
    data, callbacks = config.data, config.train.callbacks
    # a source may carry its own validation set (npz files' x_val, image folders' validation/)
    if data is None or source_schema(data).own_validation or data.validation is not None or data.validation_split > 0:
        return
    for key in ("checkpoint", "early_stopping", "reduce_lr_on_plateau"):
        cb = getattr(callbacks, key)
        enabled = cb is not None and getattr(cb, "enabled", True)
        if enabled and cb.monitor.startswith("val_"):
            raise ConfigError(
                source, f"train.callbacks.{key}.monitor",
                "expected a training metric (loss, accuracy): there is no validation set "
                "(data.validation is not given and data.validation_split is 0)", cb.monitor,
            )


def _check_recipe(config: Config, source: str) -> None:
    """A schedule sets the rate each step, so ReduceLROnPlateau cannot (Keras refuses to set a scheduled rate);
    stop_at's validation metrics need a validation set."""
    train = config.train
    schedules = [(f"train.phases[{i}].lr_schedule", p.lr_schedule) for i, p in enumerate(train.phases or [])]
    for key, schedule in [("train.lr_schedule", train.lr_schedule), *schedules]:
        if schedule is not None and schedule.type != "constant" and train.callbacks.reduce_lr_on_plateau is not None:
            raise ConfigError(source, "train.callbacks.reduce_lr_on_plateau",
                              f"not allowed with {key} ({schedule.type}): Keras cannot set a scheduled "
                              "learning rate; remove one of them", train.callbacks.reduce_lr_on_plateau.model_dump())
    if train.optimizer.learning_rate == "auto":
        for key, schedule in [("train.lr_schedule", train.lr_schedule), *schedules]:
            if schedule is not None and schedule.type == "step":
                raise ConfigError(source, "train.optimizer.learning_rate",
                                  f"auto is not allowed with {key} of type step, whose values give every rate (no "
                                  "base rate to find); give a number, or another schedule", "auto")
    data = config.data
    if train.stop_at and data is not None and not source_schema(data).own_validation and data.validation is None \
            and data.validation_split == 0:
        for key in train.stop_at:
            if key.startswith("val_"):
                raise ConfigError(source, f"train.stop_at.{key}", "expected a training metric (loss, accuracy): there "
                                  "is no validation set (data.validation is not given and data.validation_split is 0)", key)
