"""The checks of a config that need its model's graph: the shapes (when the input shape is given), each
freeze's layer, and the ImageNet weights' architecture and preprocessing. `config_problems` runs them after the
config's own checks (`cnn_cli.config.checks`); the shapes only when the rest is right, since they need it."""

from __future__ import annotations

from cnn_cli import tasks
from cnn_cli.config import Config
from cnn_cli.config.checks import config_problems as own_problems
from cnn_cli.config.phases import spans
from cnn_cli.errors import ConfigError
from cnn_cli.model.analysis import Analysis, analyze
from cnn_cli.model.freeze import frozen_layers
from cnn_cli.model.graph import check_structure
from cnn_cli.model.imagenet import TABLE, architecture_problem
from cnn_cli.model.preprocess import preprocessing
from cnn_cli.resolve.task_checks import check_task


def config_problems(config: Config, source: str) -> list[ConfigError]:
    """Every check's first problem: the config's own, the ImageNet weights', then the graph's."""
    problems = own_problems(config, source)
    for check in (check_task, _check_pretrained):
        try:
            check(config, source)
        except ConfigError as exc:
            problems.append(exc)
    if not problems:
        try:
            graph = _check_shapes(config, source)
            _check_outputs(config, graph, config.outputs, source)
            _check_architecture(config, graph, source)
            _check_freeze(config, graph, source)
        except ConfigError as exc:
            problems.append(exc)
    return problems


def model_graph(config: Config, input_shape: tuple[int, ...], num_classes: int) -> Analysis:
    """The model's graph and costs for the data's shape and class count, expanded once for a run or a summary
    (the builder, the phases and the summary take it): its shapes and each freeze's layer checked, an error
    naming what gave the value (the config file, or the `--set`: `Config.origin`)."""
    try:
        analysis = analyze(config.model, input_shape, num_classes, config.origin(""))
        _check_outputs(config, analysis.graph, num_classes, config.origin(""))
        _check_architecture(config, analysis.graph, config.origin(""))
        _check_freeze(config, analysis.graph, config.origin(""))
    except ConfigError as exc:
        raise config.blame(exc) from None
    return analysis


def _check_shapes(config: Config, source: str):
    """The model's graph (None when the shapes wait for the data and a probe shape does not fit)."""
    if config.model.input_shape is not None:
        # `units: num_classes` may wait for the data; any count checks the shapes in between.
        return analyze(config.model, config.model.input_shape, config.outputs or 2, source).graph
    # the shapes wait for the data; names and references need not
    return check_structure(config.model, config.outputs or 2, source)


def _check_outputs(config: Config, graph, count: int | None, source: str) -> None:
    """The task's check that the model gives one output per class (label, target), naming the last layer."""
    if graph is None or count is None:
        return
    entry = graph.entries[-1]
    node = next(node for node in reversed(graph.nodes) if node.name == graph.output)
    last = config.model.layers[-1]
    path = entry.path + (".units" if last.type == "dense" and isinstance(getattr(last, "units", None), int) else "")
    tasks.of(config).check_outputs(node.shape, node.name, path, count, source)


def _check_architecture(config: Config, graph, source: str) -> None:
    """`model.architecture` names the network the layers build (its backbone's last layer and weights)."""
    if graph is None or config.model.architecture is None:
        return
    problem = architecture_problem(config.model.architecture, graph.nodes)
    if problem:
        raise ConfigError(source, "model.architecture", f"the layers cannot be this architecture: {problem}",
                          config.model.architecture)


def _check_freeze(config: Config, graph, source: str) -> None:
    """Each freeze names a layer of the model and leaves some to train (the graph knows every name, a block's
    parts included; without a graph the check waits for the data's shape)."""
    if graph is None:
        return
    for span in spans(config.train):
        if span.freeze is not None:
            frozen_layers(graph, span.freeze, f"{span.path}.freeze", source)


def _check_pretrained(config: Config, source: str) -> None:
    """`model.weights: imagenet` names its architecture, and the preprocessing its weights were trained with."""
    model = config.model
    if model.weights != "imagenet":
        return
    if model.architecture is None:
        raise ConfigError(source, "model.weights", "imagenet needs model.architecture, the keras.applications "
                          f"architecture whose ImageNet file to fetch (one of {', '.join(TABLE)})", model.weights)
    expected = TABLE[model.architecture].preprocess
    if preprocessing(model) != expected:
        wanted = ("the model's own first layer to scale the pixels (model.preprocess: unit or none)"
                  if expected == "none" else f"{expected} preprocessing (set model.preprocess: {expected})")
        raise ConfigError(source, "model.preprocess", f"the ImageNet weights of {model.architecture} expect {wanted}",
                          model.preprocess)
