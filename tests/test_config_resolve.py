"""A config is resolved once into a frozen object: `--set` and the run flags are overrides checked like the
file, what the data and the run decide makes a new copy, and a resume refuses a changed config."""

from __future__ import annotations

import json

import pydantic
import pytest

from cnn_cli.config.root import Config
from cnn_cli.errors import ConfigError
from cnn_cli.resolve.run_config import RunFlags, load_resolved, resume_differences
from tests.conftest import load_config_dict

MNIST = "configs/mnist.yaml"


def _sections(model: pydantic.BaseModel):
    yield model
    for name in type(model).model_fields:
        value = getattr(model, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, pydantic.BaseModel):
                yield from _sections(item)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "sign_language", "inception_resnet"])
def test_every_section_is_frozen(name):
    config = load_resolved(f"configs/{name}.yaml")
    sections = list(_sections(config))
    assert len(sections) >= 5
    for section in sections:
        field = next(iter(type(section).model_fields))
        with pytest.raises(pydantic.ValidationError, match="frozen"):
            setattr(section, field, getattr(section, field))


def test_flags_are_overrides_validated_with_the_file():
    config = load_resolved(MNIST, ["train.batch_size=16"], RunFlags(epochs=3, seed=7, subset=50))
    assert (config.train.epochs, config.seed, config.data.subset, config.train.batch_size) == (3, 7, 50, 16)
    with pytest.raises(ConfigError, match="train.epochs"):
        load_resolved(MNIST, (), RunFlags(epochs=0))
    with pytest.raises(ConfigError, match="data.subset"):
        load_resolved(MNIST, (), RunFlags(subset=-1))


def test_subset_flag_without_a_data_section_is_the_runs(write_config):
    path = write_config({"name": "bare", "model": {"layers": [{"type": "flatten"}, {"type": "dense", "units": 10}]}})
    config = load_resolved(path, (), RunFlags(subset=10))
    assert config.data is None


@pytest.fixture
def open_mnist(write_config) -> str:
    """configs/mnist.yaml without input_shape and num_classes (the data decides them)."""
    raw = load_config_dict("mnist")
    raw["model"].pop("input_shape")
    raw["model"].pop("num_classes", None)
    return write_config(raw)


def test_resolved_is_a_new_frozen_copy(open_mnist):
    config = load_resolved(open_mnist)
    assert config.model.input_shape is None and config.seed == 42
    resolved = config.resolved(input_shape=[28, 28, 1], num_classes=10, seed=5)
    assert resolved is not config and isinstance(resolved, Config)
    assert (resolved.model.input_shape, resolved.model.num_classes, resolved.seed) == ((28, 28, 1), 10, 5)
    assert config.model.input_shape is None and config.model.num_classes is None and config.seed == 42
    assert resolved.model.layers == config.model.layers and resolved.train == config.train
    assert config.resolved() == config


def test_resume_refuses_any_change_but_the_epochs(open_mnist):
    saved = load_resolved(open_mnist).resolved(input_shape=(28, 28, 1), num_classes=10)
    assert resume_differences(saved, load_resolved(open_mnist)) == []  # shape and classes filled in
    assert resume_differences(saved, load_resolved(open_mnist, (), RunFlags(epochs=9))) == []  # an extension
    changed = load_resolved(open_mnist, ["train.optimizer=sgd"], RunFlags(seed=1))
    assert resume_differences(saved, changed) == ["seed", "train.optimizer.name"]


def test_resume_with_another_seed_is_refused(runner, tmp_path):
    from cnn_cli.cli import main

    run = tmp_path / "run"
    args = ["train", "--config", MNIST, "--data", "data/mnist_sample.npz", "--subset", "100", "--epochs", "1"]
    assert runner.invoke(main, [*args, "--run-dir", str(run)]).exit_code == 0
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(record | {"status": "interrupted"}))
    before = (run / "run.json").read_text()
    result = runner.invoke(main, ["train", "--resume", str(run), "--seed", "5"])
    assert result.exit_code == 2
    assert f"cannot resume {run}: the config with --set/--epochs/--seed/--subset differs from the run's " \
           "config.yaml at seed" in result.output
    assert (run / "run.json").read_text() == before


def test_a_bad_set_value_on_train_names_set_and_a_bad_flag_value_names_the_flag(runner, tmp_path):
    """`cnn train` resolves --set and the flags in one pass, and an error names what set the value."""
    from cnn_cli.cli import main

    result = runner.invoke(main, ["train", "--config", "configs/mnist.yaml", "--set", "train.optimizer.lr=1",
                                  "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert result.output.startswith("Error: --set: train.optimizer.lr: unknown key")
    assert not (tmp_path / "run").exists()
