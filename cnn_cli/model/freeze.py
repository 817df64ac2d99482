"""Which layers a `train.freeze` covers, from the model's graph (pure Python, so a wrong layer name is a config
error before TensorFlow starts), and the parameters that then train.

The order is the graph's, as `cnn summary` lists the layers: `until: NAME` freezes every node up to and including
NAME (a block's or composite's name: up to its last part), `fraction: f` every node up to the last of the first
floor(f x n) of the n nodes with weights.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from cnn_cli.config.phases import Freeze, Span, spans
from cnn_cli.errors import ConfigError
from cnn_cli.model.analysis import node_cost
from cnn_cli.model.graph import Graph

CLOSE = 3  # close matches named by the error of an unknown layer


@dataclass(frozen=True)
class Frozen:
    """The nodes a freeze covers and the parameter counts under it."""

    layers: tuple[str, ...]  # node (Keras layer) names, in graph order
    weighted: int  # of them, the layers with weights
    frozen_params: int  # every parameter of the frozen layers
    trainable_params: int  # what trains: the trainable parameters of the other layers
    total_params: int


def frozen_layers(graph: Graph, freeze: Freeze | None, path: str, source: str) -> Frozen:
    """The layers `freeze` (at the dotted `path` of the config, e.g. `train.freeze`) covers; a name that is no
    layer's, or a freeze of none or all of the layers with weights, is a one-line ConfigError."""
    nodes = graph.nodes
    costs = [node_cost(node) for node in nodes]
    weighted = [i for i, cost in enumerate(costs) if cost.params > 0]
    if freeze is None:
        last = -1
    elif freeze.until is not None:
        last = _index_of(graph, freeze.until, f"{path}.until", source)
    else:
        count = math.floor(freeze.fraction * len(weighted) + 1e-9)
        if count == 0:
            raise ConfigError(source, f"{path}.fraction", f"freezes no layer: the model has {len(weighted)} layers "
                              f"with weights (give at least {1 / max(1, len(weighted)):.2g})", freeze.fraction)
        last = weighted[count - 1]
    frozen = range(last + 1)
    if freeze is not None and weighted and last >= weighted[-1]:
        where = f"{path}.until" if freeze.until is not None else f"{path}.fraction"
        raise ConfigError(source, where, "freezes every layer with weights: nothing would train",
                          freeze.until if freeze.until is not None else freeze.fraction)
    return Frozen(
        layers=tuple(nodes[i].name for i in frozen),
        weighted=sum(1 for i in weighted if i <= last),
        frozen_params=sum(costs[i].params for i in frozen),
        trainable_params=sum(c.trainable_params for i, c in enumerate(costs) if i > last),
        total_params=sum(c.params for c in costs),
    )


def _index_of(graph: Graph, name: str, path: str, source: str) -> int:
    """The index in `graph.nodes` of the node `name`, or of the last node of the top-level entry (a block) `name`."""
    names = [node.name for node in graph.nodes]
    if name in names:
        return names.index(name)
    for entry in graph.entries:
        if entry.name == name and entry.nodes:
            return names.index(entry.nodes[-1].name)
    known = list(dict.fromkeys([entry.name for entry in graph.entries] + names))
    close = difflib.get_close_matches(name, known, n=CLOSE, cutoff=0.6)
    hint = f"; close: {', '.join(close)}" if close else f" ({known[0]} .. {known[-1]}; cnn summary lists them)"
    raise ConfigError(source, path, f"expected the name of a layer of the model{hint}", name)


def phase_freezes(train, graph: Graph, source: str) -> list[tuple[Span, Frozen]]:
    """Each phase of the run (`train.phases`, or the whole run with `train.freeze`) and what it freezes."""
    return [(span, frozen_layers(graph, span.freeze, f"{span.path}.freeze", source)) for span in spans(train)]
