"""The labelled PNG files of `cnn inspect`: a grid of feature maps per layer, the first convolution's filters,
Grad-CAM (image, heat map, overlay) and an overview of the image travelling through the layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnn_cli.errors import CnnError
from cnn_cli.reports import pixels as images
from cnn_cli.reports.plots import new_figure


def _write(fig, path: Path) -> None:
    try:
        fig.savefig(path, format="png")
    except OSError as exc:
        raise CnnError(f"{path}: cannot be written ({exc.strerror or exc})") from None


def feature_map_figure(maps: np.ndarray, title: str, path: Path, limit: int = 64) -> None:
    """All maps of one layer (the first `limit`), each scaled on its own, in a grid with the layer's name."""
    height, width, count = maps.shape
    grid = images.tile(maps, limit)
    scale = min(10.0 / grid.shape[1], 8.0 / grid.shape[0])
    fig = new_figure(max(4.0, grid.shape[1] * scale), max(2.0, grid.shape[0] * scale) + 0.7)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(images.colorize(grid), interpolation="nearest")
    shown = f"{min(count, limit)} of {count} maps" if count > limit else f"{count} maps"
    ax.set_title(f"{title}: {shown} of {height}x{width}\n(each scaled on its own: yellow = its highest value)",
                 fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    _write(fig, path)


def filter_figure(kernel: np.ndarray, title: str, path: Path) -> None:
    grid = images.filter_grid(kernel)
    fig = new_figure(8.0, 8.0 * grid.shape[0] / grid.shape[1] + 0.6)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(grid, interpolation="nearest")
    ax.set_title(title + ("" if kernel.shape[2] == 3 else f"\n(mean over {kernel.shape[2]} input channels; "
                          "light = large weight)"), fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    _write(fig, path)


def gradcam_figure(pixels: np.ndarray, cam: np.ndarray, title: str, path: Path) -> None:
    fig = new_figure(9.0, 3.6)
    gray = pixels.shape[-1] == 1
    panels = [("image", pixels[..., 0] if gray else pixels, "gray" if gray else None),
              ("Grad-CAM", images.heat(cam, pixels.shape[:2]), "jet"),
              ("overlay", images.overlay(pixels, cam), None)]
    for i, (name, picture, cmap) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        ax.imshow(picture, cmap=cmap, interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _write(fig, path)


def overview_figure(pixels: np.ndarray, layers: list[tuple[str, np.ndarray]], cam: np.ndarray | None, title: str,
                    path: Path, per_row: int = 8, cell: int = 72) -> None:
    """One row per layer: its name and shape, then its first `per_row` maps (each scaled on its own, enlarged to
    `cell` pixels); the image and its Grad-CAM on the first row. Drawn as one picture, so it is quick."""
    from PIL import Image

    def fit(rgb: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(rgb).resize((cell, cell), Image.Resampling.NEAREST))

    gap, label = 6, 150
    rows = [[fit(images.as_rgb(pixels))] + ([fit(images.overlay(pixels, cam))] if cam is not None else [])]
    for _, maps in layers:
        scaled = images.normalize(maps)
        rows.append([fit(images.colorize(scaled[..., c])) for c in range(min(per_row, maps.shape[-1]))])
    width = label + per_row * (cell + gap)
    canvas = np.full((len(rows) * (cell + gap) + gap, width, 3), 255, dtype=np.uint8)
    for r, row in enumerate(rows):
        top = gap + r * (cell + gap)
        for c, picture in enumerate(row):
            canvas[top:top + cell, label + c * (cell + gap):label + c * (cell + gap) + cell] = picture
    fig = new_figure(width / 100, canvas.shape[0] / 100 + 0.45)
    ax = fig.add_axes((0, 0, 1, canvas.shape[0] / (canvas.shape[0] + 45)))
    ax.imshow(canvas, interpolation="nearest")
    ax.axis("off")
    ax.text(4, gap + cell / 2, "image" + (" | Grad-CAM" if cam is not None else ""), fontsize=8, va="center")
    for r, (name, maps) in enumerate(layers, 1):
        ax.text(4, gap + r * (cell + gap) + cell / 2, f"{name}\n{'x'.join(str(d) for d in maps.shape)}", fontsize=8,
                va="center")
    fig.suptitle(title, fontsize=10, y=0.995, va="top")
    _write(fig, path)
