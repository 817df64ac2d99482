"""`cnn augment`: a grid of training images as training sees them -- the first batch of an epoch through the
run's own batch source (the `augment:` distortions, then the recipes' Keras layers: crop, colour, RandAugment,
erasing, MixUp/CutMix), each beside the image it was made from, captioned with its source and its target."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnn_cli import backends, tasks
from cnn_cli.data.model_fit import check_augment_channels
from cnn_cli.data.pipeline import TrainingBatches
from cnn_cli.errors import CnnError
from cnn_cli.reports.plots import plot_gallery, short_source, wrap

SETTINGS = ("rotation", "zoom", "width_shift", "height_shift", "horizontal_flip", "vertical_flip", "crop_padding",
            "random_erasing", "randaugment", "brightness", "contrast", "saturation", "hue", "grayscale", "mixup", "cutmix")


@dataclass
class AugmentGrid:
    path: Path
    count: int
    settings: str
    notes: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        return "\n".join([*self.notes, f"Augmentation: {self.settings}",
                          f"Wrote {self.path} ({self.count} training images, each after its original)"])


def describe(augment) -> str:
    """The augment: section's settings that are on, as `key=value` (or "none")."""
    if augment is None:
        return "none (the config has no data.augment)"
    on = [f"{key}={getattr(augment, key)}" for key in SETTINGS if getattr(augment, key)]
    if augment.randaugment:
        on.append(f"randaugment_factor={augment.randaugment_factor}")
    return ", ".join(on) or "none (every data.augment setting is off)"


def augment_grid(config, source: str, out: str | Path, *, data_path: str | None = None, count: int = 16,
                 epoch: int = 1) -> AugmentGrid:
    """Draws `count` training images of epoch `epoch` (1-based) as training makes them, beside their originals,
    into the PNG `out`."""

    out = Path(out)
    if out.suffix.lower() != ".png":
        raise CnnError(f"{out}: -o: expected a .png file")
    if out.is_dir():
        raise CnnError(f"{out}: -o: is a folder; give a .png file")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        drawn = grid_png(config, source, data_path=data_path, count=count, epoch=epoch)
        out.write_bytes(drawn)
    except OSError as exc:
        raise CnnError(f"{out}: cannot write ({exc.strerror or exc})") from None
    augment = config.data.augment if config.data is not None else None
    return AugmentGrid(out, count, describe(augment))


def grid_png(config, source: str, *, data_path: str | None = None, subset: int | None = None, count: int = 16,
             epoch: int = 1) -> bytes:
    """The grid's PNG (see `augment_grid`); `subset` as the run had it (the report's)."""
    from cnn_cli.data import load_dataset

    backends.start()
    dataset = load_dataset(config, data_path=data_path, subset=subset, source=source)
    check_augment_channels(config, dataset)
    augment = config.data.augment if config.data is not None else None
    task = tasks.of(config)
    names = dataset.class_map.names
    batches = TrainingBatches(dataset.images, dataset.labels, indices=dataset.train, batch_size=count,
                              num_classes=int(dataset.num_classes), one_hot=task.one_hot(config),
                              seed=config.seed if config.seed is not None else 0, augment=augment, face="keras")
    batches.set_epoch(epoch - 1)
    x, y = batches.source.batch(0, epoch - 1)[:2]
    positions = batches.source.indices[batches.source.order(epoch - 1)[:len(x)]]
    originals = np.asarray(dataset.images[np.sort(positions)])[np.argsort(np.argsort(positions))]
    sources = dataset.source_of(positions)
    images, captions = [], []
    for k in range(len(x)):
        images += [originals[k], np.clip(np.rint(x[k]), 0, 255).astype(np.uint8)]
        captions += [short_source(sources[k]), wrap(_target(y[k], names, task.SEVERAL), 20, 2)]
    title = f"{config.name}: epoch {epoch}'s first training batch, each image after its original"
    return plot_gallery(np.stack(images), captions, None, title=title)


def _target(row, names: list[str], several: bool) -> str:
    """What an augmented image is trained towards: its class, or a mix of classes (MixUp, CutMix, smoothing)."""
    row = np.asarray(row)
    if row.ndim == 0:
        return str(names[int(row)])
    if several:
        return ", ".join(f"{v:.3g}" for v in row[:3])
    order = [int(i) for i in np.argsort(-row, kind="stable") if row[i] > 0.005][:2]
    if len(order) == 1 and row[order[0]] > 0.995:
        return str(names[order[0]])
    return " + ".join(f"{row[i]:.2f} {names[i]}" for i in order)
