"""What `cnn train` says it found after loading the data: the source and what was done to it, images per split,
and images per class and split in one compact line (the first classes named, the rest counted), and the files
skipped and why where the source lists them (`Dataset.skipped`)."""

from __future__ import annotations

import numpy as np

from cnn_cli.tasks.calibration import imbalance_ratio, is_imbalanced

SHOWN_CLASSES = 10  # classes named in the per-class line
SHOWN_FILES = 5  # skipped files named


def data_lines(dataset) -> list[str]:
    """Lines for the user: `Dataset.describe()`, the per-class counts, the skipped files."""
    lines = dataset.describe().splitlines()
    lines.append("  " + per_class(dataset))
    ratio = imbalance(dataset)
    if ratio is not None:
        lines.append(f"  imbalance: the largest {'label' if dataset.kind == 'labels' else 'class'} in train is "
                     f"{ratio:.1f}x the smallest" + (" (balanced accuracy and macro F1 lead the reports)"
                                                     if is_imbalanced(ratio) else ""))
    skipped = list(getattr(dataset, "skipped", None) or [])
    if skipped:
        shown = ", ".join(str(item) for item in skipped[:SHOWN_FILES])
        more = f" and {len(skipped) - SHOWN_FILES} more" if len(skipped) > SHOWN_FILES else ""
        lines.append(f"  skipped {len(skipped)} file(s): {shown}{more}")
    return lines


def imbalance(dataset) -> float | None:
    """The training split's largest class (label) count over its smallest; None for regression."""
    labels = np.asarray(dataset.y_train)
    if labels.ndim == 2 and dataset.kind != "labels":
        return None
    counts = labels.sum(axis=0) if labels.ndim == 2 else np.bincount(labels.astype(np.int64), minlength=dataset.num_classes)
    return imbalance_ratio(counts)


def per_class(dataset) -> str:
    """`per class (train/validation/test): 0 392/98/98, 1 450/112/113, ...`: the splits that exist."""
    splits = [(name, y) for name, y in (("train", dataset.y_train), ("validation", dataset.y_val),
                                       ("test", dataset.y_test)) if y is not None]
    k = dataset.num_classes
    if np.asarray(dataset.labels).ndim == 2:
        return _per_column(dataset, splits)
    counts = [np.bincount(np.asarray(y, dtype=np.int64), minlength=k) for _, y in splits]
    names = [str(entry[2]) for entry in dataset.class_map.entries]
    parts = [f"{names[i]} {'/'.join(str(int(c[i])) for c in counts)}" for i in range(min(k, SHOWN_CLASSES))]
    if k > SHOWN_CLASSES:
        low = int(np.argmin(counts[0]))
        parts.append(f"... {k - SHOWN_CLASSES} more (fewest in train: {names[low]}, {int(counts[0][low])})")
    return f"per class ({'/'.join(name for name, _ in splits)}): " + ", ".join(parts)


def _per_column(dataset, splits) -> str:
    """Multi-label: `per label (train/validation/test): even 240/60/98, ...` (the examples that have it);
    regression: `per target (train): digit mean 4.5, std 2.9, range 0..9`."""
    names = [str(entry[2]) for entry in dataset.class_map.entries][:SHOWN_CLASSES]
    more = f", ... {dataset.num_classes - SHOWN_CLASSES} more" if dataset.num_classes > SHOWN_CLASSES else ""
    if dataset.kind == "labels":
        counts = [np.asarray(y, dtype=np.int64).sum(axis=0) for _, y in splits]
        parts = [f"{n} {'/'.join(str(int(c[i])) for c in counts)}" for i, n in enumerate(names)]
        return f"per label ({'/'.join(name for name, _ in splits)}): " + ", ".join(parts) + more
    y = np.asarray(splits[0][1], dtype=np.float64)
    parts = [f"{n} mean {y[:, i].mean():.4g}, std {y[:, i].std():.4g}, range {y[:, i].min():.4g}..{y[:, i].max():.4g}"
             for i, n in enumerate(names)]
    return "per target (train): " + "; ".join(parts) + more
