"""The command line itself: one-line usage errors, the help texts, and what click must keep providing."""

from __future__ import annotations

import re

import pytest

from cnn_cli import errors
from cnn_cli.cli import main


@pytest.mark.parametrize("args,command,problem", [
    (["--bogus"], "cnn", "No such option '--bogus'"),
    (["bogus"], "cnn", "No such command 'bogus'"),
    (["train", "--bogus"], "cnn train", "No such option '--bogus'"),
    (["evaluate"], "cnn evaluate", "Missing argument 'RUN_DIR'"),
    (["compare", "--config", "configs/mnist.yaml"], "cnn compare", "Missing option '--vary'"),
    (["train", "--epochs", "0"], "cnn train", "Invalid value for '--epochs'"),
])
def test_usage_errors_are_one_line(runner, args, command, problem):
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert result.output.splitlines() == [f"Error: {command}: {problem}" + result.output.split(problem, 1)[1].rstrip("\n")]
    assert result.output.rstrip().endswith(f"(see {command} --help)")


def test_no_command_shows_the_help(runner):
    result = runner.invoke(main, [])
    assert "Commands:" in result.output and "train" in result.output


def test_train_help_lists_every_exit_code(runner):
    text = runner.invoke(main, ["train", "--help"]).output
    codes = sorted(int(n) for n in re.findall(r"\b(\d+) [a-z]", text.split("Exit codes:", 1)[1].split("Options:", 1)[0]))
    assert codes == sorted([0, errors.EXIT_BAD_INPUT, errors.EXIT_DIVERGED, errors.EXIT_WORKER_LOST, errors.EXIT_INTERRUPTED])


def _pyproject() -> dict:
    import tomllib

    from tests.conftest import ROOT

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_an_spdx_string_for_setuptools_77():
    project = _pyproject()
    assert project["project"]["license"] == "MIT"  # a table ({text = ...}) makes setuptools >= 77 warn on install
    assert "setuptools>=77" in project["build-system"]["requires"]


def test_dependencies_are_bounded_and_the_pins_fit_them():
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    from tests.conftest import ROOT

    project = _pyproject()["project"]
    # What `make` and CI install is pinned: the dependencies and the extras of the Makefile's EXTRAS and of
    # .ci/run's; every other extra (tensorboard, torch's own) is bounded only.
    import re

    named = [re.search(r"^EXTRAS \?= ([\w,]+)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1),
             re.search(r"EXTRAS=([\w,]+)", (ROOT / ".ci" / "run").read_text()).group(1)]
    installed = sorted({extra for group in named for extra in group.split(",")})
    extras = project["optional-dependencies"]
    for requirement in [Requirement(r) for name, rs in extras.items() if name not in installed for r in rs]:
        assert any(s.operator == "<" for s in requirement.specifier), f"{requirement} has no upper bound"
    wanted = [Requirement(r) for r in project["dependencies"] + sum((extras[name] for name in installed), [])]
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    pins = {name.lower().replace("_", "-"): pinned for name, pinned in pins.items()}
    for requirement in wanted:
        assert any(s.operator == "<" for s in requirement.specifier), f"{requirement} has no upper bound"
        pinned = pins[requirement.name.lower()]
        assert requirement.specifier.contains(pinned), f"constraints.txt pins {requirement.name}=={pinned}, outside {requirement}"
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:  # an extra this venv was not made with (`make` installs fewer than CI)
            assert str(requirement) not in project["dependencies"], f"{requirement.name} is not installed"
            continue
        assert installed == pinned, f"installed {requirement.name} {installed} != pin {pinned}"
