"""The package's tiers (docs/architecture.md): every import of `cnn_cli`, at module level or inside a function,
goes down the tiers, never up or across; no two packages import each other; and an import inside a function is
of a module that brings a heavy optional package (Keras, a backend, matplotlib, pandas, scikit-learn, the export
converters) with it, not a way round a cycle."""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnn_cli"

# Lowest first. A unit (a subpackage, or a module at the top) may import its own modules and any unit of a
# lower tier; units that share a tier do not import each other.
TIERS = [
    ["cnn_cli", "errors", "expressions", "faults", "private_api", "number_format", "module_classes"],
    ["backends"],
    ["layers"],
    ["config"],
    ["tasks"],
    ["model"],
    ["data"],
    ["rundir"],
    ["resolve"],
    ["inference"],
    ["reports", "export"],
    ["training"],
    ["studies", "api", "serve"],
    ["commands"],
    ["cli"],
    ["__main__"],
]
# The package's root offers `cnn_cli.load_run` without importing anything until it is called: the one import
# that goes up, inside that function.
UPWARD = {("cnn_cli", "cnn_cli.api")}
TIER = {unit: level for level, units in enumerate(TIERS) for unit in units}

# What an import inside a function may be for: a package that is slow to import or optional.
HEAVY = {"keras", "tensorflow", "jax", "jaxlib", "torch", "matplotlib", "pandas", "sklearn", "scipy", "h5py",
         "pydot", "tf2onnx", "onnx", "onnxruntime", "ai_edge_litert", "PIL", "optuna", "mlflow", "uvicorn",
         "fastapi", "starlette", "iterstrat"}


def module_name(path: Path) -> str:
    parts = ["cnn_cli", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def unit(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "cnn_cli"
    return parts[1]


@cache
def imports(module: str) -> tuple[tuple[str, bool, int], ...]:
    """(imported module, inside a function, line) for each import in `module`; `from pkg import name` counts as
    an import of pkg.name when that is a module."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    in_function = set()
    type_only = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            in_function.update(id(sub) for sub in ast.walk(node) if sub is not node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(sub) for sub in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        for name in names:
            if id(node) not in type_only:
                found.append((name, id(node) in in_function, node.lineno))
            elif name.startswith("cnn_cli"):
                found.append((name, False, node.lineno))
    return tuple(found)


@cache
def heavy(module: str, seen: frozenset = frozenset()) -> bool:
    """Whether importing `module` imports a heavy package (at module level, directly or through cnn_cli); a
    package that imports each of its modules by itself (`pkgutil`, as `layers.custom` registers its layers)
    imports what they import."""
    path = MODULES[module]
    if path.name == "__init__.py" and "pkgutil.iter_modules" in path.read_text():
        inner = [m for m in MODULES if m.startswith(module + ".") and m.count(".") == module.count(".") + 1]
        if any(heavy(m, seen | {module}) for m in inner):
            return True
    for name, inside, _ in imports(module):
        if inside:
            continue
        if name.split(".")[0] in HEAVY:
            return True
        if name in MODULES and name not in seen and name != module and heavy(name, seen | {module}):
            return True
    return False


def internal_imports():
    for module in sorted(MODULES):
        for name, inside, line in imports(module):
            if name.startswith("cnn_cli") and name in MODULES:
                yield module, name, inside, line


def test_every_unit_has_a_tier():
    assert {unit(m) for m in MODULES} <= set(TIER), sorted({unit(m) for m in MODULES} - set(TIER))


def test_imports_go_down_the_tiers():
    wrong = [f"{MODULES[m].relative_to(PACKAGE.parent)}:{line} imports {name} ({unit(name)}, tier {TIER[unit(name)]}) "
             f"from {unit(m)} (tier {TIER[unit(m)]})"
             for m, name, _, line in internal_imports()
             if unit(name) != unit(m) and TIER[unit(name)] >= TIER[unit(m)] and unit(name) != "cnn_cli"
             and (m, name) not in UPWARD]
    assert not wrong, "\n".join(wrong)


def test_no_cycle_between_packages():
    edges = {(unit(m), unit(n)) for m, n, _, _ in internal_imports() if unit(m) != unit(n) and unit(n) != "cnn_cli"}
    both = sorted((a, b) for a, b in edges if (b, a) in edges and a < b)
    assert not both, both


def test_imports_inside_functions_are_for_heavy_packages():
    light = [f"{MODULES[m].relative_to(PACKAGE.parent)}:{line} imports {name} inside a function, which imports no heavy package"
             for m, name, inside, line in internal_imports() if inside and not heavy(name) and (m, name) not in UPWARD]
    assert not light, "\n".join(light)


def test_the_walker_sees_imports_inside_functions():
    """The walker itself: an import inside a function and one at module level are found and told apart."""
    assert ("cnn_cli.api", True) in {(name, inside) for name, inside, _ in imports("cnn_cli")}
    assert ("cnn_cli.commands.train", False) in {(name, inside) for name, inside, _ in imports("cnn_cli.cli")}


@pytest.mark.parametrize("module", ["cnn_cli.config", "cnn_cli.model.graph", "cnn_cli.rundir.records"])
def test_light_modules_stay_light(module):
    """Checking a config and reading a run's records import no heavy package (the CLI's `--help` and config
    errors are instant)."""
    assert not heavy(module), module


def test_no_one_letter_alias_of_a_module():
    """A module is called by its name (`rundir.RunDir`, `html.table`), not by a letter (`R.`, `H.`)."""
    short = []
    for path in sorted(MODULES.values()):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                short += [f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: as {alias.asname}"
                          for alias in node.names if alias.asname and len(alias.asname) == 1]
    assert not short, "\n".join(short)


def test_no_module_name_shadows_the_standard_library():
    shadowing = sorted(m for m in MODULES if m.rpartition(".")[2] in sys.stdlib_module_names
                       and m.count(".") == 1)  # a top-level module: `import numbers` would find it first
    assert not shadowing, shadowing
