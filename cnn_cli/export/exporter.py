"""`export_run`: a run's model written as SavedModel, ONNX or LiteRT, with its class map, verified before it
is put in place. Every check of the user's input (format, quantization, run, output path, packages, layer
kinds, data) comes before anything is written."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from cnn_cli.backends.tensorflow import start
from cnn_cli.errors import CnnError
from cnn_cli.export import litert_format, onnx_format, output, saved_model_format, source, support, verify
from cnn_cli.export.runtimes import quiet, require, version

WRITERS = {"saved_model": saved_model_format, "onnx": onnx_format, "litert": litert_format}
assert tuple(WRITERS) == support.FORMATS


@dataclass
class ExportResult:
    format: str
    quantize: str | None
    path: Path | None  # None when verification failed: nothing was kept
    labels: Path | None
    verification: verify.Verification
    seconds: float

    @property
    def passed(self) -> bool:
        return self.verification.passed

    def to_dict(self) -> dict:
        return {"format": self.format, "quantize": self.quantize, "path": str(self.path) if self.path else None,
                "labels": str(self.labels) if self.labels else None, "passed": self.passed,
                "verification": self.verification.to_dict(), "seconds": round(self.seconds, 2)}

    def to_text(self) -> str:
        kind = WRITERS[self.format].NAME + (f", {self.quantize}" if self.quantize else ", float32")
        lines = verify.text(self.verification)
        if self.path:
            lines += [f"Wrote {self.path} ({kind})", f"Wrote {self.labels} (class map)"]
        else:
            lines.append(f"Nothing was written: the {kind} export failed verification.")
        lines.append(f"Took {self.seconds:.1f} s.")
        return "\n".join(lines)


def check_request(fmt: str, quantize: str | None) -> None:
    if fmt not in WRITERS:
        raise CnnError(f"--format: expected one of {', '.join(WRITERS)}, received {fmt!r}")
    allowed = WRITERS[fmt].QUANTIZE
    if quantize and quantize not in allowed:
        how = f"only {', '.join(allowed)}" if allowed else "no quantization (it stays float32)"
        raise CnnError(f"--quantize {quantize}: {WRITERS[fmt].NAME} export takes {how}")
    require(f"--format {fmt}", WRITERS[fmt].NEEDS)


def export_run(run_dir: str | Path, fmt: str, *, output_path: str | Path | None = None, quantize: str | None = None,
               force: bool = False, data_path: str | None = None, images: int | None = None) -> ExportResult:
    """Exports the model of `run_dir` to `fmt` and verifies it; see the package's doc."""
    started = time.perf_counter()
    check_request(fmt, quantize)
    writer = WRITERS[fmt]
    src = source.open_run(run_dir)
    path = Path(output_path) if output_path else output.default_path(src.run.dir.export, fmt, writer.SUFFIX, quantize)
    created = output.check_target(path, writer.SUFFIX, force)
    try:
        result = _export(src, writer, fmt, path, quantize, data_path, images)
    finally:
        output.remove_folders(created)  # only those still empty: after a failure, or a failed verification
    return ExportResult(fmt, quantize, path if result.passed else None,
                        output.labels_path(path) if result.passed else None, result, time.perf_counter() - started)


def _export(src: source.Source, writer, fmt: str, path: Path, quantize: str | None, data_path: str | None,
            images: int | None) -> verify.Verification:
    """Loads, checks, writes under temporary names, verifies, and renames into place when verification passed."""

    start()
    from cnn_cli.export import rewrite  # defines a Keras layer: imports Keras

    model = source.float32_model(src)
    support.check(model, fmt, src.model_path)
    x, y, data = source.test_images(src, data_path, images)
    if len(x) == 0:
        raise CnnError(f"{data}: no images to verify the export on")
    with quiet():  # XLA's notice when the model has grouped convolutions
        expected = source.reference(model, src.scale, x, run=src.run)
    metadata = _metadata(src, fmt, quantize, model)
    temp, temp_labels = output.temporary(path), output.temporary(output.labels_path(path))
    try:
        with quiet():
            exportable = rewrite.convertible(model, fmt, source.all_layers)
            writer.write(source.serving_model(exportable, src.scale, src.run), temp, quantize, metadata)
            predict = writer.load(temp)
        result = verify.verify(predict, expected, x, y, quantized=quantize is not None,
                               runtime=f"{writer.RUNTIME} {version(writer.RUNTIME)}", data=data,
                               file_bytes=output.size(temp), task=src.run.task, state=src.run.targets)
        if result.passed:
            output.write_json(temp_labels, {**metadata, "file": path.name, "verification": result.to_dict()})
            output.put_in_place(temp, path)
            output.put_in_place(temp_labels, output.labels_path(path))
    finally:
        output.discard(temp, temp_labels)
    return result


def _metadata(src: source.Source, fmt: str, quantize: str | None, model) -> dict:
    height, width, channels = (int(d) for d in model.input_shape[1:])
    return {
        "format": fmt, "quantize": quantize, "run": str(src.run.path), "name": src.run.config.name,
        "config_sha256": src.config_sha256,
        "input": {"name": "image", "dtype": "uint8", "shape": [None, height, width, channels],
                  "pixels": "0..255 as stored in image files; the scaling is inside the model"},
        "output": {"name": "probabilities", "dtype": "float32", "shape": [None, len(src.classes)]},
        "classes": src.classes,
        **_task_metadata(src),
    }


def _task_metadata(src: source.Source) -> dict:
    """What another task's output is: a multi-label run's scores and thresholds; a regression's numbers in units."""
    run = src.run
    calibrated = {"temperature": run.targets.temperature} if run.targets.temperature is not None else {}
    if not run.task.SEVERAL:
        return {"task": run.task.NAME, **calibrated}
    if run.task.NAME == "multilabel":
        thresholds = run.task.thresholds(run.targets, len(src.classes)).tolist()
        return {"task": "multilabel", "output": {"name": "scores", "dtype": "float32", "shape": [None, len(src.classes)],
                                                 "meaning": "each label's sigmoid score; a label is present when its "
                                                 "score reaches its threshold"},
                "thresholds": thresholds, **calibrated}
    return {"task": "regression", "output": {"name": "values", "dtype": "float32", "shape": [None, len(src.classes)],
                                             "meaning": "each target's number in the data's units"},
            "target_mean": list(run.targets.mean or []), "target_std": list(run.targets.std or [])}
