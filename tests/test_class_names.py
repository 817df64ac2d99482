"""Class names are the data's: `--data PATH` drops the config's own source (its class names included) and says
so; without it, a list of names for a data set that names its classes must name the same classes (and then
sets their order), and names for numeric ids need one per class."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from cnn_cli.cli import main
from tests.run_helpers import ROOT, TINY


def _clothes(folder: Path) -> Path:
    """scripts/image_folders.py's three classes: sneaker, trouser, tshirt (40 colour 32x32 images each)."""
    spec = importlib.util.spec_from_file_location("image_folders", ROOT / "scripts" / "image_folders.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.clothes(folder / "clothes", per_class=8)
    return folder / "clothes"


def _config(tmp_path: Path, data: str) -> str:
    path = tmp_path / "named.yaml"
    path.write_text(TINY.split("data:\n")[0] + data + "train:\n" + TINY.split("train:\n")[1])
    return str(path)


def _names(run: Path) -> list[tuple[str, str]]:
    return [(c["id"], c["name"]) for c in json.loads((run / "labels.json").read_text())["classes"]]


def test_data_flag_drops_the_recipes_class_names(runner, tmp_path):
    config = _config(tmp_path, "data:\n  source: fashion_mnist\n  class_names: [T-shirt/top, Trouser, Sneaker]\n")
    run = tmp_path / "run"
    result = runner.invoke(main, ["train", "--config", config, "--data", str(_clothes(tmp_path)), "--epochs", "1",
                                  "--run-dir", str(run)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert _names(run) == [("sneaker", "sneaker"), ("trouser", "trouser"), ("tshirt", "tshirt")]
    assert "replaces the config's data source: data.class_names not used" in result.output


def test_class_names_of_a_folder_set_the_order(runner, tmp_path):
    folder = _clothes(tmp_path)
    config = _config(tmp_path, f"data:\n  source: folder\n  path: {folder}\n  class_names: [tshirt, trouser, sneaker]\n")
    run = tmp_path / "run"
    result = runner.invoke(main, ["train", "--config", config, "--epochs", "1", "--run-dir", str(run)],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert _names(run) == [("tshirt", "tshirt"), ("trouser", "trouser"), ("sneaker", "sneaker")]


@pytest.mark.parametrize("names, why", [
    ("[T-shirt/top, Trouser, Sneaker]", "T-shirt/top, Trouser, Sneaker not among them"),
    ("[tshirt, trouser]", "sneaker missing"),
])
def test_class_names_that_are_not_the_folders_are_refused(runner, tmp_path, names, why):
    folder = _clothes(tmp_path)
    config = _config(tmp_path, f"data:\n  source: folder\n  path: {folder}\n  class_names: {names}\n")
    result = runner.invoke(main, ["train", "--config", config, "--epochs", "1", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == (f"Error: {config}: data.class_names: expected the names of the data's classes "
                                     f"(sneaker, trouser, tshirt), which it sets the order of; {why}")


def test_class_names_for_numeric_ids_need_one_per_class(runner, tmp_path):
    npz = ROOT / "data" / "mnist_sample.npz"
    config = _config(tmp_path, f"data:\n  source: npz\n  path: {npz}\n  class_names: {{0: zero, 1: one}}\n")
    result = runner.invoke(main, ["train", "--config", config, "--epochs", "1", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == (f"Error: {config}: data.class_names: expected a name for every class of the "
                                     "training data; missing for 2, 3, 4, 5, 6, 7, 8, 9")
