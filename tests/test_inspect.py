"""`cnn inspect`: feature maps against a convolution computed by hand, block names, filters, Grad-CAM, the
files written, and the one-line refusals (unknown layer or class, unreadable image, diverged run)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnn_cli.cli import main
from tests.run_helpers import MNIST_NPZ, ROOT, copy_run, mnist_run


@pytest.fixture(scope="module")
def digit(tmp_path_factory):
    """The first test digit of the MNIST sample (a 7) as a PNG file."""
    path = tmp_path_factory.mktemp("digit") / "seven.png"
    Image.fromarray(np.load(MNIST_NPZ)["x_test"][0]).save(path)
    return path


def _model_and_input(run, path):
    from cnn_cli.reports import access

    opened = access.open_run(run)
    pixels = access.read_image(str(path), opened.input_shape)
    model, _ = access.load_model(opened)
    return opened, model, pixels, access.model_inputs(opened, pixels[None])


def test_inspect_writes_every_layer_and_agrees_with_predict(runner, digit, tmp_path):
    run, out = mnist_run(), tmp_path / "out"
    result = runner.invoke(main, ["inspect", str(run), str(digit), "-o", str(out), "--class", "3"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["feature_maps_01_conv2d.png", "feature_maps_02_max_pooling2d.png", "feature_maps_03_conv2d_1.png",
                     "feature_maps_04_max_pooling2d_1.png", "feature_maps_05_conv2d_2.png",
                     "feature_maps_06_max_pooling2d_2.png", "filters_conv2d.png", *sorted(
                         {f"gradcam_{result.output.split(': ')[1].split()[0]}.png", "gradcam_3.png"}), "overview.png"]
    for name in names:
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.width >= 300
    predicted = runner.invoke(main, ["predict", str(run), str(digit), "--top-k", "3", "--json"])
    top = json.loads(predicted.output)["predictions"][0]["top"]
    first_line = result.output.splitlines()[0]
    assert first_line.startswith(f"{digit}: ")
    shown = [item.split() for item in first_line[len(f"{digit}: "):].split(", ")]
    assert [name for name, _ in shown] == [t["name"] for t in top]
    assert [float(p) for _, p in shown] == pytest.approx([t["probability"] for t in top], abs=2e-3)  # bf16 rounding


def test_feature_maps_are_the_convolution_of_the_image(digit):
    """conv2d's maps equal relu(image * kernel + bias) computed with numpy, and pooling halves them."""
    from cnn_cli.reports.inspection import default_layers, feature_maps, first_conv

    _, model, pixels, x = _model_and_input(mnist_run(), digit)
    assert default_layers(model)[:2] == ["conv2d", "max_pooling2d"]
    import keras

    conv, pool = feature_maps(model, x, ["conv2d", "max_pooling2d"])
    layer = first_conv(model)
    seen = keras.ops.convert_to_numpy(keras.Model(model.inputs[0], layer.input)(x)).astype(np.float32)  # after any input scaling
    assert seen.max() == pytest.approx(x.max() / (255.0 if "input_scaling" in [la.name for la in model.layers] else 1.0),
                                       rel=1e-2)
    kernel, bias = (np.asarray(w, dtype=np.float32) for w in layer.get_weights())
    k = kernel.shape[0]
    padded = np.pad(seen[0, ..., 0], k // 2) if conv.shape[1] == seen.shape[1] else seen[0, ..., 0]
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k))
    expected = np.maximum(np.einsum("ijab,abf->ijf", windows, kernel[:, :, 0, :]) + bias, 0)
    assert conv.shape[1:] == expected.shape
    np.testing.assert_allclose(conv[0], expected, atol=0.02 * float(np.abs(expected).max()))
    h, w = conv.shape[1] // 2, conv.shape[2] // 2
    np.testing.assert_array_equal(pool[0], conv[0, :2 * h, :2 * w].reshape(h, 2, w, 2, -1).max(axis=(1, 3)))


def test_blocks_are_found_by_their_summary_names():
    from cnn_cli.model.analysis import analyze
    from cnn_cli.model.builder import build_model
    from cnn_cli.reports.inspection import choose_layers, default_layers
    from cnn_cli.resolve import load_config

    config = load_config(str(ROOT / "configs" / "inception_resnet.yaml"))
    model = build_model(config.model, (28, 28, 1), 10)
    blocks = {layer.name: layer.children[-1].name for layer in analyze(config.model, (28, 28, 1), 10, "x").layers
              if layer.children}
    assert choose_layers(model, ["inception", "residual_1_conv1", "inception_3x3"], blocks) == [
        "inception_concat", "residual_1_conv1", "inception_3x3"]
    defaults = default_layers(model)
    assert {"inception_3x3", "inception_pool", "residual_conv1", "residual_1_conv2"} <= set(defaults)
    assert "global_average_pooling2d" not in defaults  # no 2-D maps

    pooling = load_config(str(ROOT / "configs" / "pooling.yaml"))
    pools = build_model(pooling.model, (28, 28, 1), 10)
    kinds = {type(pools.get_layer(n)).__name__ for n in default_layers(pools)}
    assert {"Conv2D", "MaxPooling2D", "AveragePooling2D", "MinPooling2D"} <= kinds


def test_input_scale_follows_the_run_format():
    """Runs of format 2 take 0..255 (the model scales); older runs (no format) take [0, 1]."""
    from cnn_cli.reports import access

    run = access.open_run(mnist_run())
    pixels = np.full((1, 2, 2, 1), 255, dtype=np.uint8)
    assert access.record(run)["format"] == 2 and access.model_inputs(run, pixels).max() == 255.0
    run.record = run.record.model_copy(update={"format": 1})
    assert access.model_inputs(run, pixels).max() == pytest.approx(1.0)


def test_grad_cam_maps(digit):
    from cnn_cli.inference.gradcam import cam_layer, grad_cam

    _, model, pixels, x = _model_and_input(mnist_run(), digit)
    assert cam_layer(model) == "conv2d_2"
    cams = grad_cam(model, np.repeat(x, 2, axis=0), np.array([7, 1]))
    assert cams.shape == (2, 7, 7) and cams.min() >= 0 and cams.max() == pytest.approx(1.0)
    assert not np.allclose(cams[0], cams[1])  # another class, another map


def test_inspect_resizes_and_converts_like_predict(runner, tmp_path):
    picture = tmp_path / "big.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(picture)
    result = runner.invoke(main, ["inspect", str(mnist_run()), str(picture), "-o", str(tmp_path / "o"),
                                  "--layers", "conv2d"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "feature_maps_01_conv2d.png").is_file()
    assert not (tmp_path / "o" / "feature_maps_02_max_pooling2d.png").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--layers", "conv9"], "Error: --layers: 'conv9' is not a layer of the model; layers with feature maps: "),
    (["--layers", "dense"], "Error: --layers: 'dense' has no 2-D feature maps"),
    (["--class", "cat"], "Error: --class: 'cat' is not one of the run's classes"),
])
def test_inspect_bad_flags(runner, digit, tmp_path, args, message):
    result = runner.invoke(main, ["inspect", str(mnist_run()), str(digit), "-o", str(tmp_path), *args])
    assert result.exit_code == 2 and result.output.startswith(message), result.output
    assert len(result.output.strip().splitlines()) == 1
    if "conv9" in args:
        assert "conv2d, max_pooling2d, conv2d_1, max_pooling2d_1, conv2d_2, max_pooling2d_2" in result.output


def test_inspect_refuses_unreadable_image_and_diverged_run(runner, digit, tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    result = runner.invoke(main, ["inspect", str(mnist_run()), str(fake)])
    assert result.exit_code == 2 and result.output.strip() == f"Error: {fake}: not a readable image (Pillow does not recognise the format)"
    for path, why in ((tmp_path / "none.png", "no such file"), (tmp_path, "not a file (expected an image)")):
        result = runner.invoke(main, ["inspect", str(mnist_run()), str(path)])
        assert result.exit_code == 2 and result.output == f"Error: {path}: {why}\n"
    run = copy_run(mnist_run(), tmp_path)
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "status": "diverged"}))
    for args in (["inspect", str(run), str(digit)], ["report", str(run)]):
        result = runner.invoke(main, args)
        assert result.exit_code == 2, result.output
        assert result.output.strip().startswith(f"Error: {run / 'run.json'}: the run diverged") and "\n" not in result.output.strip()
    assert not (run / "inspect").exists() and not (run / "report.html").exists()


def test_inspect_default_folder_is_per_path_and_replaced(runner, tmp_path):
    """Two images of one name in two folders get two folders (`<stem>-<hash>`); a second look at the same image
    replaces its folder wholly (no Grad-CAM file of the first look stays), and every file written is listed."""
    run = copy_run(mnist_run(), tmp_path / "run")
    x = np.load(MNIST_NPZ)["x_test"]
    paths = []
    for folder, index in (("Coat", 0), ("Shirt", 1)):
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / "0005.png")
        Image.fromarray(x[index]).save(paths[-1])
    first = runner.invoke(main, ["inspect", str(run), str(paths[0]), "--class", "3"])
    second = runner.invoke(main, ["inspect", str(run), str(paths[1])])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    folders = sorted((run / "inspect").iterdir())
    assert len(folders) == 2 and all(f.name.startswith("0005-") and len(f.name) == len("0005-") + 8 for f in folders)
    for result in (first, second):
        wrote = [line.removeprefix("Wrote ") for line in result.output.splitlines() if line.startswith("Wrote ")]
        folder = {str(Path(w).parent) for w in wrote}
        assert len(folder) == 1 and sorted(Path(w).name for w in wrote) == sorted(p.name for p in Path(*folder).iterdir())
    again = runner.invoke(main, ["inspect", str(run), str(paths[0]), "--class", "3"])
    own = next(f for f in folders if str(f) in first.output)
    assert "replaced" in again.output
    before = {p.name for p in own.iterdir()}
    (own / "stale.png").write_bytes(b"x")
    third = runner.invoke(main, ["inspect", str(run), str(paths[0])])
    assert third.exit_code == 0 and not (own / "stale.png").exists()
    assert {p.name for p in own.iterdir()} <= before
