"""Shared fixtures: the repository root, the CLI runner, and writing configs to temporary files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
DATA = ROOT / "data"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def write_config(tmp_path):
    """Writes a dict (or raw text) as a YAML file in tmp_path and returns its path as a string."""

    def write(content, name: str = "config.yaml") -> str:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        return str(path)

    return write


def load_config_dict(name: str) -> dict:
    return yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory):
    """The tests' decoded-image caches go to a temporary folder, not the user's ~/.cache/cnn (subprocesses too)."""
    os.environ["CNN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cnn-cache"))


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch):
    """Config paths such as data/mnist_sample.npz are relative to the repository root."""
    monkeypatch.chdir(ROOT)
