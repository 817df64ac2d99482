"""One inference path: `cnn predict`, `cnn evaluate` and `load_run` compute with the same model,
in float32, on a run trained in mixed bfloat16 (whose saved layers say mixed_bfloat16)."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from PIL import Image

from cnn_cli.cli import main
from tests.run_helpers import ROOT, TINY, _train

FM_NPZ = ROOT / "data" / "fashion_mnist_sample.npz"


@functools.cache
def mixed_run():
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="cnn-test-mixed-"))
    atexit.register(shutil.rmtree, folder, True)
    config = folder / "mixed.yaml"
    config.write_text(TINY.replace("data/fashion_mnist_sample.npz", str(FM_NPZ))
                      .replace("precision: float32", "precision: mixed_bfloat16"))
    return _train("mixed", ["--config", str(config), "--epochs", "1"])


def test_predict_evaluate_and_inspect_compute_as_load_run_does(runner, tmp_path):
    from cnn_cli import load_run

    run = mixed_run()
    saved = json.loads((run / "config.yaml").read_text().split("precision: ")[1].split("\n")[0].join('""'))
    assert saved == "mixed_bfloat16"
    x = np.load(FM_NPZ)["x_test"][:24]  # under 32 files: decoded without the cache (no progress line)
    paths = []
    for i, image in enumerate(x):
        paths.append(str(tmp_path / f"{i:02d}.png"))
        Image.fromarray(image).save(paths[-1])
    expected = load_run(run).predict(x[..., None])

    result = runner.invoke(main, ["predict", str(run), *paths, "--top-k", "1", "--json"])
    assert result.exit_code == 0, result.output
    top = [p["top"][0] for p in json.loads(result.output)["predictions"]]
    assert [t["index"] for t in top] == expected.argmax(axis=1).tolist()
    assert [t["probability"] for t in top] == pytest.approx(expected.max(axis=1).tolist(), abs=1e-6)

    from cnn_cli.inference.evaluation import load_split
    from cnn_cli.rundir.run_reader import read_run

    split = load_split(read_run(run))
    pixels = np.concatenate([chunk for _, chunk in split.x.chunks(256)])
    probabilities = load_run(run).predict(pixels).astype(np.float64)
    loss = float(np.mean(-np.log(np.clip(probabilities[np.arange(len(split.y)), split.y], 1e-7, 1))))
    evaluated = runner.invoke(main, ["evaluate", str(run), "--json", "--no-write"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["loss"] == pytest.approx(loss, abs=1e-5)
