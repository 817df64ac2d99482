"""Verification of an exported model against the Keras model it came from (run in float32), on test images.

Measured: top-1 agreement, the largest probability difference, accuracy of each, batch-1 latency (median
of repeated calls) and batch-256 throughput. The rule it must pass:

- float export: top-1 agreement at least 99.9% (`MIN_AGREEMENT`) and no probability more than 1e-3 off
  (`MAX_DIFFERENCE`: a converter error shows as far more, float32 round-off as about 1e-6);
- quantized export (`--quantize`): accuracy within 1 point of the Keras model's (`MAX_ACCURACY_DROP`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

MIN_AGREEMENT = 0.999
MAX_DIFFERENCE = 1e-3
MAX_ACCURACY_DROP = 0.01
BATCH = 256
LATENCY_CALLS = 50
LATENCY_SECONDS = 2.0
THROUGHPUT_CALLS = 3


@dataclass
class Verification:
    runtime: str
    data: str
    images: int
    agreement: float
    disagreements: int
    max_difference: float
    accuracy_export: float
    accuracy_keras: float
    file_bytes: int
    latency_ms: float
    images_per_second: float
    passed: bool
    rule: str
    task: str = "classification"
    measure: str = ""  # another task's agreement measure and its value
    figure: str = "accuracy"  # what accuracy_export and accuracy_keras hold (micro_f1, mae for other tasks)

    def to_dict(self) -> dict:
        return asdict(self)

    def failure(self) -> str:
        return f"the export does not give the Keras model's answers: {self.measured()}; required: {self.rule}"

    def measured(self) -> str:
        if self.task != "classification":
            return (f"{self.measure}, largest difference {self.max_difference:.1e}, {self.figure} "
                    f"{self.accuracy_export:.4f} against Keras' {self.accuracy_keras:.4f}")
        return (f"top-1 agreement {self.agreement:.2%} ({self.disagreements} of {self.images} differ), largest "
                f"probability difference {self.max_difference:.1e}, accuracy {self.accuracy_export:.4f} against "
                f"Keras' {self.accuracy_keras:.4f}")


def verify(predict: Callable[[np.ndarray], np.ndarray], expected: np.ndarray, x: np.ndarray, y: np.ndarray, *,
           quantized: bool, runtime: str, data: str, file_bytes: int, task=None, state=None) -> Verification:
    """Runs `predict` on `x` (uint8) in batches and compares with `expected` (the Keras model's probabilities;
    another task's outputs, compared by the task's `agreement`)."""
    got = np.concatenate([np.asarray(predict(x[i:i + BATCH]), dtype=np.float32) for i in range(0, len(x), BATCH)])
    if task is not None and task.SEVERAL:
        return _verify_task(task, state, predict, expected, got, x, y, quantized=quantized, runtime=runtime,
                            data=data, file_bytes=file_bytes)
    same = got.argmax(axis=1) == expected.argmax(axis=1)
    agreement = float(same.mean())
    difference = float(np.abs(got - expected).max())
    accuracy_export = float(np.mean(got.argmax(axis=1) == y))
    accuracy_keras = float(np.mean(expected.argmax(axis=1) == y))
    if quantized:
        rule = f"accuracy within {MAX_ACCURACY_DROP * 100:.0f} point of Keras' (quantized export)"
        passed = accuracy_export >= accuracy_keras - MAX_ACCURACY_DROP - 1e-9
    else:
        rule = f"top-1 agreement >= {MIN_AGREEMENT:.1%} and largest probability difference < {MAX_DIFFERENCE:.0e}"
        passed = agreement >= MIN_AGREEMENT and difference < MAX_DIFFERENCE
    latency, throughput = timings(predict, x)
    return Verification(runtime=runtime, data=data, images=int(len(x)), agreement=agreement,
                        disagreements=int((~same).sum()), max_difference=difference, accuracy_export=accuracy_export,
                        accuracy_keras=accuracy_keras, file_bytes=file_bytes, latency_ms=latency,
                        images_per_second=throughput, passed=passed, rule=rule)


def _verify_task(task, state, predict, expected, got, x, y, *, quantized, runtime, data, file_bytes) -> Verification:
    """A multi-label export: equal label decisions on at least 99.9% of them; a regression export: the largest
    difference at most 1e-3 target standard deviations. Quantized: the task's headline figure (micro F1; MAE in
    standard deviations) within 1 point of Keras'. `accuracy_*` hold the headline figure of each."""
    names = [str(i) for i in range(expected.shape[1])]
    measured = task.agreement(expected, got, state)
    figure = next(iter(task.FIGURES))  # the headline: micro_f1, mae
    mine, theirs = task.evaluate(y, got, state, names)[figure], task.evaluate(y, expected, state, names)[figure]
    if quantized:
        if task.NAME == "multilabel":
            passed = mine >= theirs - MAX_ACCURACY_DROP - 1e-9
        else:
            scale = float(np.mean(state.std)) if state is not None and state.std else 1.0
            passed = mine <= theirs + MAX_ACCURACY_DROP * scale + 1e-9
        rule = f"{figure} within {MAX_ACCURACY_DROP * 100:.0f} point of Keras' (quantized export)"
    else:
        passed, rule = bool(measured["passed"]), measured["rule"]
    value = float(measured["value"])
    agreement = value if task.NAME == "multilabel" else float(np.mean(np.abs(got - expected) <= 1e-6 + 1e-3 * np.abs(expected)))
    latency, throughput = timings(predict, x)
    return Verification(runtime=runtime, data=data, images=int(len(x)), agreement=agreement,
                        disagreements=int(round((1 - agreement) * expected.size)) if task.NAME == "multilabel" else 0,
                        max_difference=float(np.abs(got - expected).max()) if got.size else 0.0,
                        accuracy_export=float(mine), accuracy_keras=float(theirs), file_bytes=file_bytes,
                        latency_ms=latency, images_per_second=throughput, passed=passed, rule=rule,
                        task=task.NAME, measure=f"{measured['measure']} {value:.6g}", figure=figure)


def timings(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> tuple[float, float]:
    """(median milliseconds of one image, images per second in batches of 256), after a warm-up call each."""
    one = x[:1]
    predict(one)
    times = []
    start = time.perf_counter()
    while len(times) < LATENCY_CALLS and time.perf_counter() - start < LATENCY_SECONDS:
        began = time.perf_counter()
        predict(one)
        times.append(time.perf_counter() - began)
    batch = np.resize(x, (BATCH, *x.shape[1:]))  # repeats the images when there are fewer than 256
    predict(batch)
    best = float("inf")
    for _ in range(THROUGHPUT_CALLS):
        began = time.perf_counter()
        predict(batch)
        best = min(best, time.perf_counter() - began)
    return float(np.median(times) * 1000.0), float(BATCH / best)


def text(v: Verification) -> list[str]:
    """The verification as indented lines."""
    if v.task != "classification":
        return [
            f"Verified with {v.runtime} on {v.images} images ({v.data}), task {v.task}:",
            f"  {v.measure}",
            f"  largest difference:                    {v.max_difference:.2e}",
            f"  {v.figure}:{' ' * max(1, 38 - len(v.figure))}export {v.accuracy_export:.4f}, Keras {v.accuracy_keras:.4f}",
            f"  file size:                             {size_text(v.file_bytes)}",
            f"  latency, batch 1:                      {v.latency_ms:.3f} ms (median)",
            f"  throughput, batch {BATCH}:                {v.images_per_second:,.0f} images/s",
            f"  required: {v.rule}: {'passed' if v.passed else 'FAILED'}",
        ]
    return [
        f"Verified with {v.runtime} on {v.images} images ({v.data}):",
        f"  top-1 agreement with Keras (float32): {v.agreement:.2%} ({v.images - v.disagreements}/{v.images})",
        f"  largest probability difference:       {v.max_difference:.2e}",
        f"  accuracy:                              export {v.accuracy_export:.4f}, Keras {v.accuracy_keras:.4f}",
        f"  file size:                             {size_text(v.file_bytes)}",
        f"  latency, batch 1:                      {v.latency_ms:.3f} ms (median)",
        f"  throughput, batch {BATCH}:                {v.images_per_second:,.0f} images/s",
        f"  required: {v.rule}: {'passed' if v.passed else 'FAILED'}",
    ]


def size_text(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit} ({n:,} bytes)"
    return f"{n} bytes"
