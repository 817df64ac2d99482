"""Probabilities that mean what they say, and how far apart the classes are in size.

- Temperature scaling (Guo et al., 2017): the model's logits divided by one number T > 0 fitted on the
  validation split by the lowest negative log-likelihood (`fit_temperature`); T > 1 softens over-confident
  probabilities, and the predicted class never changes. Classification: the softmax's logits are taken back
  from its probabilities (log p, which differs from the logits by a constant per example that the softmax
  cancels), `softmax_at`; multilabel: one temperature shared by every label's sigmoid, `sigmoid_at` (a label's
  logit is log(p / (1 - p))). The exported model does the same in float32 (`cnn_cli.export.source`).
- The expected calibration error (`ece`): the examples in 15 equal bins of confidence, the mean gap between
  each bin's confidence and its accuracy, weighted by the bin's share (`reliability` gives the bins, for the
  report's diagram).
- `imbalance_ratio`: the largest class's count over the smallest's (classes without examples left out);
  at `IMBALANCED` (5) or more, evaluate, the report and compare lead with balanced accuracy and macro F1.
"""

from __future__ import annotations

import numpy as np

BINS = 15
IMBALANCED = 5.0
SOFTMAX_FLOOR = 1e-30  # log p of a probability that underflowed to 0 (float32 holds it)
SIGMOID_EPSILON = 1e-7  # a sigmoid score is clipped to [eps, 1 - eps] before its logit (float32 tells them apart)
BOUNDS = (0.05, 20.0)  # the temperatures searched


def softmax_at(probabilities: np.ndarray, temperature: float | None) -> np.ndarray:
    """Softmax probabilities (N, K) at `temperature` (None or 1: as they are)."""
    p = np.asarray(probabilities, dtype=np.float64)
    if temperature is None or temperature == 1.0:
        return p
    logits = np.log(np.maximum(p, SOFTMAX_FLOOR)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid_at(scores: np.ndarray, temperature: float | None) -> np.ndarray:
    """Sigmoid scores at `temperature` (None or 1: as they are)."""
    s = np.asarray(scores, dtype=np.float64)
    if temperature is None or temperature == 1.0:
        return s
    s = np.clip(s, SIGMOID_EPSILON, 1 - SIGMOID_EPSILON)
    return 1.0 / (1.0 + np.exp(-(np.log(s) - np.log1p(-s)) / temperature))


def _nll_softmax(probabilities: np.ndarray, labels: np.ndarray):
    labels = np.asarray(labels, dtype=np.int64)

    def nll(t: float) -> float:
        p = softmax_at(probabilities, t)[np.arange(len(labels)), labels]
        return float(-np.mean(np.log(np.maximum(p, 1e-300))))
    return nll


def _nll_sigmoid(scores: np.ndarray, rows: np.ndarray):
    y = np.asarray(rows, dtype=np.float64)

    def nll(t: float) -> float:
        p = np.clip(sigmoid_at(scores, t), 1e-15, 1 - 1e-15)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))
    return nll


def fit_temperature(outputs: np.ndarray, labels: np.ndarray, kind: str) -> float:
    """The temperature (in `BOUNDS`) with the lowest negative log-likelihood of `labels` (class indices for
    `kind` softmax, multi-hot rows for sigmoid) on the validation split's `outputs`; 1.0 without examples."""
    from scipy.optimize import minimize_scalar

    if not len(outputs):
        return 1.0
    nll = _nll_softmax(outputs, labels) if kind == "softmax" else _nll_sigmoid(outputs, labels)
    found = minimize_scalar(lambda log_t: nll(float(np.exp(log_t))), bounds=np.log(BOUNDS), method="bounded",
                            options={"xatol": 1e-4})
    best = float(np.exp(found.x))
    return best if nll(best) <= nll(1.0) else 1.0


def confidences(y_true: np.ndarray, outputs: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, hit) of each decision: softmax, the top class's probability and whether it is the true
    class; sigmoid, every label's score and whether the label is there (over all label decisions)."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if kind == "softmax":
        return outputs.max(axis=1), (outputs.argmax(axis=1) == np.asarray(y_true)).astype(np.float64)
    return outputs.ravel(), np.asarray(y_true, dtype=np.float64).ravel()


def reliability(confidence: np.ndarray, hit: np.ndarray, bins: int = BINS) -> list[dict]:
    """Each of `bins` equal bins of confidence in (0, 1]: its range, count, mean confidence and accuracy."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        out.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": n,
                    "confidence": float(confidence[inside].mean()) if n else None,
                    "accuracy": float(hit[inside].mean()) if n else None})
    return out


def ece(confidence: np.ndarray, hit: np.ndarray, bins: int = BINS) -> float:
    """The expected calibration error: sum over bins of |accuracy - confidence| x the bin's share."""
    total = len(confidence)
    if not total:
        return 0.0
    return float(sum(b["count"] / total * abs(b["accuracy"] - b["confidence"])
                     for b in reliability(confidence, hit, bins) if b["count"]))


def imbalance_ratio(counts) -> float | None:
    """The largest count over the smallest (zero counts left out); None with fewer than two counted."""
    if counts is None:
        return None
    held = [int(c) for c in counts if int(c) > 0]
    return max(held) / min(held) if len(held) >= 2 else None


def is_imbalanced(ratio: float | None) -> bool:
    return ratio is not None and ratio >= IMBALANCED
