"""`cnn inspect`: what a trained model does with one image. PNG grids of the feature maps after each
convolution and pooling layer (inside blocks too, by the names `cnn summary` prints), the first
convolution's filters, and Grad-CAM heat maps of the predicted class (and of `--class NAME`).

Feature maps and filters read the model through Keras' public API (a sub-model of the layers' outputs, the
kernel's weights), so they work for every layer kind and backend; Grad-CAM needs TensorFlow (`gradcam.py`)."""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnn_cli.errors import CnnError, DataError
from cnn_cli.inference.gradcam import cam_layer, grad_cam
from cnn_cli.reports import access
from cnn_cli.reports import inspect_figures as figures

MAP_TYPES = ("Conv", "Pooling")  # Keras class names that count as "a convolution or a pooling layer"


@dataclass
class Inspection:
    """One image looked at: the prediction, and the PNG files written."""

    image: str
    top: list[tuple[str, float]]
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        lines = [f"{self.image}: " + ", ".join(f"{name} {p:.4f}" for name, p in self.top)]
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines + [f"Wrote {path}" for path in self.files])


def spatial(layer) -> bool:
    """Whether a layer's output is a stack of 2-D maps (batch, H, W, C)."""
    output = getattr(layer, "output", None)
    return output is not None and len(tuple(output.shape)) == 4


def default_layers(model) -> list[str]:
    """Every convolution and pooling layer with 2-D maps, in the model's order (inside blocks too)."""
    return [layer.name for layer in model.layers[1:]
            if spatial(layer) and any(t in type(layer).__name__ for t in MAP_TYPES)]


def block_outputs(run) -> dict[str, str]:
    """The names `cnn summary` prints for blocks, mapped to their output layer (a block's last tensor)."""
    analysis, _ = access.analysis(run)
    return {layer.name: layer.children[-1].name for layer in analysis.layers if layer.children}


def choose_layers(model, wanted: list[str] | None, blocks: dict[str, str]) -> list[str]:
    """`--layers` names (layers or blocks, as `cnn summary` prints them) as layer names, or the default."""
    if not wanted:
        return default_layers(model)
    names = {layer.name: layer for layer in model.layers[1:]}
    chosen = []
    for name in wanted:
        target = blocks.get(name, name)
        if target not in names:
            known = ", ".join(n for n, layer in names.items() if spatial(layer))
            raise CnnError(f"--layers: {name!r} is not a layer of the model; layers with feature maps: {known}")
        if not spatial(names[target]):
            raise CnnError(f"--layers: {name!r} has no 2-D feature maps (output {tuple(names[target].output.shape)[1:]})")
        chosen.append(target)
    return chosen


def feature_maps(model, x: np.ndarray, names: list[str]) -> list[np.ndarray]:
    """The outputs of the named layers for model inputs `x`: one float32 (N, H, W, C) array per name."""
    import keras

    if not names:
        return []
    sub = keras.Model(model.inputs[0], [model.get_layer(name).output for name in names])
    if len(x) > 64:
        outputs = sub.predict(x, verbose=0, batch_size=64)
    else:  # a few images: one eager call, without tracing a predict function
        outputs = sub(x, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [keras.ops.convert_to_numpy(o).astype(np.float32) for o in outputs]


def probabilities_of(model, x: np.ndarray, run=None) -> np.ndarray:
    """The model's class probabilities for a few inputs (one eager call); with `run`, its task's outputs (a
    multi-label run's scores, a regression's numbers in the data's units)."""
    import keras

    whole = keras.Model(model.inputs[0], model.outputs[0])  # one input tensor, whatever structure the file saved
    scores = keras.ops.convert_to_numpy(whole(x, training=False)).astype(np.float64)
    if run is not None and run.task.SEVERAL:
        return run.task.outputs(scores, run.targets)
    return access.as_probabilities(scores)


def first_conv(model):
    """The first convolution layer (the one whose filters look at the pixels), or None."""
    for layer in model.layers[1:]:
        if "Conv" in type(layer).__name__ and getattr(layer, "kernel", None) is not None:
            return layer
    return None


def class_index(run, name: str) -> int:
    """A class named as in labels.json (its name or its id)."""
    for index, ident, label in run.class_map.entries:
        if name in (label, str(ident)):
            return index
    what = {"multilabel": "labels", "regression": "targets"}.get(run.config.task, "classes")
    raise CnnError(f"--class: {name!r} is not one of the run's {what} ({run.class_map.summary(names=True)})")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "class"


def folder_name(image_path: str) -> str:
    """`<stem>-<8 hex digits>`: the image's name and a hash of its absolute path, so that two images of one name
    (photos/Coat/0005.jpg, photos/Shirt/0005.jpg) never share a folder."""
    digest = hashlib.sha256(str(Path(image_path).resolve()).encode()).hexdigest()[:8]
    return f"{_safe(Path(image_path).stem)}-{digest}"


def _fresh(folder: Path, replace: bool) -> bool:
    """Makes `folder`; with `replace`, an old one (a previous inspect of the same image) is removed first, so
    no file of an earlier look stays beside the new ones. Whether an old one was replaced."""
    replaced = False
    try:
        if replace and (folder.is_symlink() or folder.is_file()):
            folder.unlink()
            replaced = True
        elif replace and folder.is_dir():
            shutil.rmtree(folder)
            replaced = True
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CnnError(f"{folder}: cannot create the folder ({exc.strerror or exc}); give -o DIR") from None
    return replaced


def inspect_image(run_dir: str, image_path: str, *, layers: list[str] | None = None, out: str | None = None,
                  class_name: str | None = None, limit: int = 64) -> Inspection:
    """Looks at one image with a run's model and writes the PNGs (see the module doc) into `out`, as given, or
    by default RUN_DIR/inspect/<stem>-<hash of the image's path>/, replaced wholly when it exists."""
    run = access.open_run(run_dir)
    if not Path(image_path).is_file():
        raise DataError(image_path, "not a file (expected an image)" if Path(image_path).exists() else "no such file")
    pixels = access.read_image(image_path, run.input_shape, run.resize)  # an unreadable image is refused before the model loads
    model, _ = access.load_model(run)
    names = choose_layers(model, layers, block_outputs(run))
    wanted = class_index(run, class_name) if class_name is not None else None
    folder = access.output_path(out, run.dir.inspect_path(folder_name(image_path)))
    replaced = _fresh(folder, replace=out is None)

    x = access.model_inputs(run, pixels[None])
    probabilities = probabilities_of(model, x, run)[0]
    regression = run.config.task == "regression"
    # a regression's outputs are its targets, in order (the first drawn); others' the highest scores first
    order = np.arange(min(3, len(probabilities))) if regression else np.argsort(-probabilities, kind="stable")[:3]
    class_names = run.class_map.names
    result = Inspection(image=image_path, top=[(class_names[i], float(probabilities[i])) for i in order])
    if replaced:
        result.notes.append(f"replaced the earlier pictures of this image in {folder}")
    maps = [m[0] for m in feature_maps(model, x, names)]
    result.files += _write_maps(model, names, maps, folder, limit)
    targets = [int(order[0])] + ([wanted] if wanted is not None and wanted != int(order[0]) else [])
    cams = grad_cam(model, np.repeat(x, len(targets), axis=0), np.array(targets), cam_layer(model))
    if cams is None:
        result.notes.append("Grad-CAM needs the TensorFlow backend; skipped")
    else:
        said = "value" if regression else "score" if run.config.task == "multilabel" else "p"
        titles = [f"Grad-CAM of {class_names[t]} ({said} = {probabilities[t]:.4g}, layer {cam_layer(model)})"
                  for t in targets]
        paths = [folder / f"gradcam_{_safe(class_names[t])}.png" for t in targets]
        for cam, title, path in zip(cams, titles, paths):
            figures.gradcam_figure(pixels, cam, title, path)
        result.files += paths
    path = folder / "overview.png"
    figures.overview_figure(pixels, list(zip(names, maps)), cams[0] if cams is not None else None,
                            f"{Path(image_path).name}: {result.top[0][0]} ({result.top[0][1]:.3f})", path)
    result.files.insert(0, path)
    return result


def _write_maps(model, names: list[str], maps: list[np.ndarray], folder: Path, limit: int) -> list[Path]:
    """A grid PNG per layer's feature maps, and the first convolution's filters."""
    paths = []
    for number, (name, values) in enumerate(zip(names, maps), 1):
        paths.append(folder / f"feature_maps_{number:02d}_{_safe(name)}.png")
        figures.feature_map_figure(values, f"{name} ({type(model.get_layer(name)).__name__})", paths[-1], limit)
    conv = first_conv(model)
    if conv is not None:
        kernel = np.asarray(conv.kernel)
        paths.append(folder / f"filters_{_safe(conv.name)}.png")
        figures.filter_figure(kernel, f"{conv.name}: {kernel.shape[-1]} filters of {kernel.shape[0]}x{kernel.shape[1]}",
                              paths[-1])
    return paths
