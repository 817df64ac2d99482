"""`cnn lr-find`: the learning-rate range test (`lr_find.range_test`) on a config's model and training data,
as `cnn train` would start them (the seed, the precision, the starting weights, the class weights, the first
phase's freeze), with nothing written but the chart asked for."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cnn_cli import tasks
from cnn_cli.backends import current as backend
from cnn_cli.backends import start as start_backend
from cnn_cli.data.pipeline import TrainingBatches
from cnn_cli.errors import CnnError
from cnn_cli.resolve.model_checks import model_graph
from cnn_cli.resolve.run_config import RunFlags, choose_seed, load_resolved
from cnn_cli.training import lr_find, pretrained
from cnn_cli.training.data_summary import data_lines
from cnn_cli.training.precision import choose_precision, set_precision


@dataclass(frozen=True)
class LrFindOptions:
    config_path: str | None
    overrides: Sequence[str] = ()
    data_path: str | None = None
    subset: int | None = None
    seed: int | None = None
    steps: int = lr_find.STEPS
    start: float = lr_find.START
    end: float = lr_find.END


def find(opts: LrFindOptions, echo: Callable[[str], None] = print) -> lr_find.RangeTest:
    if not opts.config_path:
        raise CnnError("no config: give --config FILE")
    if not opts.start < opts.end:
        raise CnnError(f"--start {opts.start:g} must be below --end {opts.end:g}")
    config = load_resolved(opts.config_path, opts.overrides, RunFlags(seed=opts.seed, subset=opts.subset,
                                                                       data=opts.data_path))
    config = config.resolved(seed=choose_seed(config.seed))
    subset = opts.subset if opts.subset is not None else (config.data.subset if config.data else None)
    start_backend()
    import keras

    from cnn_cli.data import load_dataset
    from cnn_cli.data.model_fit import check_model_fits_data
    from cnn_cli.model.builder import adapt_normalization, build_model
    from cnn_cli.training import recipe

    backend().seed_everything(int(config.seed), config.train.deterministic)
    previous = keras.mixed_precision.global_policy().name
    set_precision(choose_precision(config.train.precision))
    try:
        dataset = load_dataset(config, data_path=opts.data_path, subset=subset, source=opts.config_path)
        check_model_fits_data(config, dataset)
        for line in data_lines(dataset):
            echo(line)
        shape, count = tuple(dataset.input_shape), int(dataset.num_classes)
        config = config.resolved(input_shape=shape, num_classes=count)
        analysis = model_graph(config, shape, count)
        task = tasks.of(config)
        model = build_model(config.model, shape, count, opts.config_path, name=config.name, graph=analysis.graph,
                            head_activation=task.HEAD_ACTIVATION)
        loaded = pretrained.load(model, config, shape, echo) if config.model.weights is not None else []
        adapt_normalization(model, dataset.images[dataset.train[:2048]], skip=loaded)
        state = task.fit_state(dataset.y_train, config)
        targets = task.targets(dataset.labels, state) if task.SEVERAL else dataset.labels
        weights = recipe.class_weights(config, dataset.y_train, dataset.class_map, opts.config_path)
        loss = task.loss(config, weights) if task.SEVERAL and weights is not None else task.loss(config)
        batches = TrainingBatches(
            dataset.images, targets, indices=dataset.train, batch_size=config.train.batch_size, num_classes=count,
            one_hot=task.one_hot(config), seed=int(config.seed),
            augment=config.data.augment if config.data is not None else None,
            class_weights=None if task.SEVERAL else weights)
        source = batches.source
        echo(f"Range test: up to {opts.steps} steps of batch {config.train.batch_size}, learning rate "
             f"{opts.start:g} to {opts.end:g} ({config.train.optimizer.name})")
        return lr_find.range_test(model, source.batch, len(source),
                                  lr_find.compiler(model, config.train.optimizer, loss),
                                  steps=opts.steps, start=opts.start, end=opts.end,
                                  frozen=lr_find.first_frozen(config, analysis.graph, opts.config_path))
    finally:
        set_precision(previous)
