"""`cnn report` in a real browser: headless Chromium (Debian's `chromium`) over the DevTools protocol loads the
page, every image must have loaded (naturalWidth > 0), the console must have no errors, the page must make no
network request, it must fit a phone's width, and its sort script must sort. Skips where Chromium is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnn_cli.cli import main
from tests import chromium
from tests.run_helpers import mnist_run

pytestmark = pytest.mark.skipif(not chromium.available(), reason=f"{chromium.CHROMIUM} is not installed "
                                "(apt-get install chromium)")


@pytest.fixture
def browser():
    opened = chromium.Browser()
    yield opened
    opened.close()


def test_report_renders_in_chromium(runner, tmp_path, browser):
    page = tmp_path / "report.html"
    result = runner.invoke(main, ["report", str(mnist_run()), "-o", str(page)])
    assert result.exit_code == 0, result.output
    browser.open(page)
    images = browser.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
    assert len(images) > 40
    assert [alt for complete, width, alt in images if not (complete and width > 0)] == []
    shot = tmp_path / "report.png"
    browser.screenshot(shot, 1100, 1800)
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 50_000
    assert browser.errors() == []
    assert [url for url in browser.requests() if not url.startswith("data:") and url != page.as_uri()] == []

    # sorting the per-class table by recall, highest first, with a click on its header
    order = browser.evaluate("""(() => { const t = document.querySelector('#classes table');
        t.querySelectorAll('th')[2].click();
        return Array.from(t.tBodies[0].rows).map(r => parseFloat(r.cells[2].dataset.v)); })()""")
    assert len(order) == 10 and order == sorted(order, reverse=True)

    browser.viewport(390, 844, mobile=True)  # a phone: nothing wider than the screen but the scrolling boxes
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    assert browser.errors() == []


def test_broken_image_is_caught(tmp_path, browser):
    """The checks above can fail: a page with a broken image and a script error is caught by the same code."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="data:image/png;base64,AAAA" alt="broken">'
                    '<img src="http://127.0.0.1:9/x.png" alt="remote"><script>console.error("boom")</script></body></html>')
    browser.open(Path(page))
    images = browser.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert images == [[True, 0], [True, 0]]
    assert "boom" in browser.errors()
    assert "http://127.0.0.1:9/x.png" in browser.requests()
