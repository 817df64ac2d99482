"""The documentation site: its generated reference follows the code (every config key with its meaning, every
layer kind and argument, every command), the README stays a front page, and the site builds in strict mode."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import chromium
from tests.run_helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import docs_reference  # noqa: E402

DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def pages():
    return docs_reference.pages()


def test_generated_reference_is_current(pages):
    assert docs_reference.stale(pages) == [], "run `make docs-reference`"


def test_every_config_key_has_a_row_with_its_meaning(pages):
    schema, kinds = docs_reference.config_schema(), docs_reference.layer_kinds()
    titles = {docs_reference._def_title(schema, kind["type"]) for kind in kinds} - {None}
    walk = docs_reference.SchemaWalk(schema, titles)
    rows = [path for path, _, _, _ in walk.rows(schema, "")]
    text = pages[docs_reference.OUT / "config.md"]
    assert len(rows) > 100
    for key in ("task", "model.layers", "data.augment.randaugment", "train.lr_schedule", "distribute.strategy"):
        assert key in rows
    missing = []
    for path in rows:
        row = next((line for line in text.splitlines() if line.startswith(f"| `{path}` |")), None)
        assert row is not None, f"{path} has no row"
        meaning = row.rstrip(" |").rsplit(" | ", 1)[-1].strip()
        if not meaning:
            missing.append(path)
    assert missing == [], f"config keys without a description in the code: {missing}"


def test_every_layer_kind_and_argument_has_its_page(pages):
    from cnn_cli.layers import registry

    kinds = docs_reference.layer_kinds()
    assert {kind["type"] for kind in kinds} == set(registry.kinds())
    index = pages[docs_reference.OUT / "layers" / "index.md"]
    for kind in kinds:
        page = pages[docs_reference.OUT / "layers" / f"{kind['type']}.md"]
        assert f"]({kind['type']}.md)" in index
        assert page.startswith(docs_reference.HEADER + f"\n# `{kind['type']}`")
        for argument in kind["arguments"]:
            assert f"| `{argument['name']}` |" in page, (kind["type"], argument["name"])
            assert argument["description"], f"{kind['type']}.{argument['name']} has no description in the code"


def test_every_command_has_its_help_in_the_reference(pages):
    from cnn_cli.cli import main

    text = pages[docs_reference.OUT / "commands.md"]
    for name in main.commands:
        assert f"## `cnn {name}`" in text
        assert f"Usage: cnn {name} [OPTIONS]" in text


def test_readme_is_a_front_page_that_links_into_the_docs():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) <= 250
    assert lines[0] == "# cnn" and "make train" in text and "make test" in text
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / link).is_file(), f"README links to {link}, which does not exist"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built in strict mode: a broken link, a page outside the table of contents or any other warning
    fails the build."""
    beside = Path(sys.executable).parent / "sphinx-build"
    sphinx = str(beside) if beside.is_file() else shutil.which("sphinx-build")
    if sphinx is None:
        pytest.skip("the docs extra is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site") / "html"
    done = subprocess.run([sphinx, "-q", "-W", "--keep-going", "-n", "-b", "html", str(DOCS), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def test_every_page_is_in_the_site(site):
    built = {path.relative_to(site).with_suffix("").as_posix() for path in site.rglob("*.html")}
    for page in DOCS.rglob("*.md"):
        name = page.relative_to(DOCS).with_suffix("").as_posix()
        if not name.startswith("_build"):
            assert name in built, f"{name} was not built"


@pytest.mark.skipif(not chromium.available(), reason="needs Debian's chromium")
@pytest.mark.parametrize("page", ["index.html", "reference/layers/conv2d.html", "benchmarks.html"])
def test_pages_open_offline_in_a_browser(site, page):
    """The theme's styles and scripts come from the site itself: no request leaves it, no console error, and the
    page has its content."""
    browser = chromium.Browser()
    try:
        browser.open(site / page)
        assert browser.errors() == []
        outside = [url for url in browser.requests() if not url.startswith(("file://", "data:"))]
        assert outside == []
        assert browser.evaluate("document.styleSheets.length") >= 2  # the theme's CSS loaded
        heading = browser.evaluate("document.querySelector('h1').textContent")
        assert heading.strip(" #\u00b6")
    finally:
        browser.close()
