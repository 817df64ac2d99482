"""The report of `cnn summary`: Keras' own summary table, then each layer's and block's output shape,
params, MACs and activation memory, and the totals (see `cnn_cli.model.analysis` for how they are counted,
and each kind's manual, `cnn layers KIND`, for its rule). A block's row (a composite kind such as
`bottleneck`, or a block of the config's `blocks:`) sums the layers of its expansion, listed under it; the
model's own `input_scaling` is a row of its own, and a line says what it does to the pixels (`model.preprocess`).
Under `train.freeze` or `train.phases`, the totals say what each phase freezes and trains."""

from __future__ import annotations

from dataclasses import dataclass, field

from cnn_cli import tasks
from cnn_cli.backends import start as start_backend
from cnn_cli.config import Config
from cnn_cli.errors import CnnError
from cnn_cli.model.analysis import Analysis, LayerCost, analyze
from cnn_cli.model.freeze import phase_freezes
from cnn_cli.model.preprocess import describe_preprocessing
from cnn_cli.number_format import human_bytes

BYTES_PER_ELEMENT = {"float32": 4, "auto": 4, "mixed_bfloat16": 2, "mixed_float16": 2}


@dataclass
class SummaryReport:
    name: str
    keras_table: str
    analysis: Analysis
    bytes_per_element: int
    batch_size: int
    preprocessing: str = ""
    phases: list = field(default_factory=list)  # (Span, Frozen) of each phase, when the config freezes or phases

    @property
    def activation_bytes_per_example(self) -> int:
        return self.analysis.activation_elements * self.bytes_per_element

    def _layer_dict(self, layer: LayerCost) -> dict:
        item = {
            "name": layer.name, "type": layer.type, "output_shape": list(layer.output_shape),
            "params": layer.params, "trainable_params": layer.trainable_params,
            "non_trainable_params": layer.non_trainable_params, "macs": layer.macs,
            "activation_bytes": layer.activation_elements * self.bytes_per_element,
        }
        if layer.children:
            item["layers"] = [self._layer_dict(child) for child in layer.children]
        return item

    def to_dict(self) -> dict:
        a = self.analysis
        return {
            "name": self.name,
            "input_shape": list(a.input_shape),
            "num_classes": a.num_classes,
            "total_params": a.total_params,
            "trainable_params": a.trainable_params,
            "non_trainable_params": a.non_trainable_params,
            "total_macs": a.total_macs,
            "bytes_per_element": self.bytes_per_element,
            "activation_bytes_per_example": self.activation_bytes_per_example,
            "batch_size": self.batch_size,
            "preprocessing": self.preprocessing,
            "activation_bytes_per_batch": self.activation_bytes_per_example * self.batch_size,
            "layers": [self._layer_dict(layer) for layer in a.layers],
            **({"phases": [_phase_dict(span, frozen) for span, frozen in self.phases]} if self.phases else {}),
        }

    def to_text(self) -> str:
        a = self.analysis
        rows = [("Layer (type)", "Output shape", "Params", "MACs", "Activations")]
        for layer in a.layers:
            rows.append(self._row(layer, ""))
            rows.extend(self._row(child, "  ") for child in layer.children)
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        line = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
        rule = "-" * len(line(rows[0]))
        per_batch = self.activation_bytes_per_example * self.batch_size
        dtype = "float32" if self.bytes_per_element == 4 else f"{self.bytes_per_element}-byte"
        totals = [
            f"Total params:          {a.total_params:,}",
            f"Trainable params:      {a.trainable_params:,}",
            f"Non-trainable params:  {a.non_trainable_params:,}",
            f"MACs per example:      {a.total_macs:,}",
            f"Activations per example: {self.activation_bytes_per_example:,} bytes ({human_bytes(self.activation_bytes_per_example)}, {dtype})",
            f"Activations per batch of {self.batch_size}: {per_batch:,} bytes ({human_bytes(per_batch)})",
            f"Preprocessing:         {self.preprocessing}",
        ] + [_phase_line(span, frozen) for span, frozen in self.phases]
        return "\n".join(
            [self.keras_table.rstrip(), "", f"Costs per example (input {_shape(a.input_shape)}):", rule, line(rows[0]), rule]
            + [line(r) for r in rows[1:]] + [rule] + totals
        )

    def _row(self, layer: LayerCost, indent: str) -> tuple[str, ...]:
        return (
            f"{indent}{layer.name} ({layer.type})", _shape(layer.output_shape), f"{layer.params:,}",
            f"{layer.macs:,}", human_bytes(layer.activation_elements * self.bytes_per_element),
        )


def _phase_line(span, frozen) -> str:
    """`Phase 1 (epochs 1-2), freeze until body_bn: 7 layers frozen (4 with weights, 728 params), 90 params
    trainable`; without phases `Frozen (train.freeze fraction 0.6): ...`."""
    if span.count == 1:
        return (f"Frozen (train.freeze {span.freeze.describe()}): {len(frozen.layers)} layers ({frozen.weighted} with "
                f"weights, {frozen.frozen_params:,} params); {frozen.trainable_params:,} params trainable")
    what = f"Phase {span.number} (epochs {span.start + 1}-{span.end})"
    if span.freeze is None:
        return f"{what}: nothing frozen, {frozen.trainable_params:,} params trainable"
    return (f"{what}, freeze {span.freeze.describe()}: {len(frozen.layers)} layers frozen ({frozen.weighted} with "
            f"weights, {frozen.frozen_params:,} params), {frozen.trainable_params:,} params trainable")


def _phase_dict(span, frozen) -> dict:
    return {"phase": span.number, "epochs": [span.start + 1, span.end],
            "freeze": span.freeze.model_dump(exclude_none=True) if span.freeze is not None else None,
            "frozen_layers": list(frozen.layers), "frozen_params": frozen.frozen_params,
            "trainable_params": frozen.trainable_params,
            "learning_rate": span.learning_rate}


def _shape(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def summarize(
    config: Config, input_shape, num_classes: int, source: str, batch_size: int | None = None, plot_path: str | None = None,
    model=None, analysis: Analysis | None = None,
) -> SummaryReport:
    """Builds the model (Keras) unless `model` is the one already built, analyses its costs (unless `analysis`
    is the one already made), and draws its graph when `plot_path` is given."""
    if analysis is None:
        analysis = analyze(config.model, input_shape, num_classes, source)

    start_backend()
    from cnn_cli.model.builder import build_model

    if model is None:
        model = build_model(config.model, input_shape, num_classes, source, name=config.name, graph=analysis.graph,
                            head_activation=tasks.of(config).HEAD_ACTIVATION)
    lines: list[str] = []
    import os

    # Keras draws its table with rich, which takes the width from COLUMNS when output is captured.
    width = "140" if any(layer.children for layer in analysis.layers) else "100"
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = width
    try:
        model.summary(print_fn=lambda text, line_break=True: lines.append(text), line_length=int(width))
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous
    if plot_path:
        plot_model(model, plot_path)

    phases = []
    if config.train.freeze is not None or config.train.phases:
        phases = phase_freezes(config.train, analysis.graph, source)
    return SummaryReport(
        config.name, "\n".join(lines), analysis, BYTES_PER_ELEMENT[config.train.precision],
        batch_size or config.train.batch_size, describe_preprocessing(config.model), phases,
    )


def plot_model(model, path: str) -> None:
    """Draws the model graph with shapes; pydot and graphviz are an optional extra."""
    import shutil

    try:
        import pydot  # noqa: F401
    except ImportError:
        raise CnnError("--plot needs pydot: pip install 'cnn-cli[plot]' (and graphviz: apt-get install graphviz)") from None
    if shutil.which("dot") is None:
        raise CnnError("--plot needs the graphviz programs (dot): apt-get install graphviz, or brew install graphviz")
    import keras

    keras.utils.plot_model(model, to_file=path, show_shapes=True, show_layer_names=True, dpi=96)
