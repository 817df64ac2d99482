"""`cnn report`: the page's numbers against `cnn evaluate`, self-containment and size, escaping, the runs that
get a page with a note at the top (no test split, incomplete, data gone); evaluate's mistakes.png; compare's
page; and the plots' labels, which must not overlap at 10, 24 and 100 classes."""

from __future__ import annotations

import base64
import html
import json
import re
import shlex
from types import SimpleNamespace

import numpy as np
import pytest

from cnn_cli.cli import main
from tests.run_helpers import ROOT, copy_run, mnist_run, phased_run, sign_run

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _report(runner, run, out, expect=0):
    result = runner.invoke(main, ["report", str(run), "-o", str(out)])
    assert result.exit_code == expect, result.output
    return result, out.read_text(encoding="utf-8") if expect == 0 else ""


def _card(page: str, label: str) -> float:
    return float(re.search(rf'<div class="card">{re.escape(label)}<b>([0-9.]+)</b>', page).group(1))


def test_report_numbers_match_evaluate(runner, tmp_path):
    from cnn_cli.inference.evaluation import evaluate_run

    run = mnist_run()
    result, page = _report(runner, run, tmp_path / "r.html")
    assert result.output.startswith(f"Wrote {tmp_path / 'r.html'} (")
    evaluation = evaluate_run(run).evaluation
    assert _card(page, "test accuracy") == pytest.approx(evaluation.accuracy, abs=1e-4)
    assert _card(page, "test loss (cross-entropy)") == pytest.approx(evaluation.loss, abs=2e-3)
    rows = re.findall(r'<tr><td>(\d)</td><td class="n" data-v="([0-9.e-]+)">.*?data-v="([0-9.e-]+)">.*?'
                      r'data-v="([0-9.e-]+)">.*?data-v="([0-9.e-]+)"', page)
    assert [r[0] for r in rows] == [str(d) for d in range(10)]
    for row, expected in zip(rows, evaluation.per_class):
        assert [float(v) for v in row[1:]] == pytest.approx(
            [expected["precision"], expected["recall"], expected["f1"], expected["support"]])
    for heading in ("Training curves", "Confusion matrix", "Most confused pairs", "Highest loss", "Inside the model",
                    "Model", "Config", "How the run was made"):
        assert f">{heading}</h2>" in page
    assert "93,322" in page and "5,682,304" in page  # the MNIST net's params and MACs, as `cnn summary` counts them
    command = shlex.join(json.loads((run / "run.json").read_text())["command"])
    assert f"<dt>command</dt><dd>{html.escape(command)}</dd>" in page
    assert "tensorflow 2." in page and "<dt>seed</dt><dd>42</dd>" in page


def test_report_is_self_contained(runner, tmp_path):
    _, page = _report(runner, mnist_run(), tmp_path / "r.html")
    assert len(page.encode()) < 5_000_000
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert len(sources) > 40 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert all(base64.b64decode(s.split(",", 1)[1])[:4] == b"\x89PNG" for s in sources)
    assert not re.search(r"(href|src)=\"(https?:|//)", page) and "<link" not in page and "@import" not in page
    assert "default-src 'none'" in page  # the browser is told to fetch nothing


def test_report_escapes_user_strings(runner, tmp_path):
    run = copy_run(mnist_run(), tmp_path)
    labels = json.loads((run / "labels.json").read_text())
    labels["classes"][3]["name"] = '<img src=x onerror="alert(1)">'
    (run / "labels.json").write_text(json.dumps(labels))
    config = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text("# </pre><script>alert(2)</script>\n" + config)
    _, page = _report(runner, run, tmp_path / "r.html")
    assert "<img src=x" not in page and "<script>alert" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page and "&lt;/pre&gt;&lt;script&gt;alert(2)" in page


def test_report_without_test_split_says_validation(runner, tmp_path):
    _, page = _report(runner, sign_run(), tmp_path / "r.html")
    assert "This report is on the validation split: the data has no test split" in page
    assert "validation accuracy<b>" in page and "validation accuracy (at training)<b>" in page
    assert page.count("validation accuracy<b>") == 1  # the pass over the split; training's own figure is named so


def test_report_of_incomplete_runs(runner, tmp_path):
    run = copy_run(mnist_run(), tmp_path)
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "status": "interrupted"}))
    (run / "model.keras").unlink()
    (run / "metrics.json").unlink()
    result, page = _report(runner, run, tmp_path / "a.html")
    assert "This run is incomplete: its status is &#x27;interrupted&#x27; (cnn train --resume RUN_DIR finishes it)." in page
    assert "the model shown is its best checkpoint best.keras" in page and ">Confusion matrix</h2>" in page
    assert "Note: This run is incomplete" in result.output
    (run / "best.keras").unlink()
    _, page = _report(runner, run, tmp_path / "b.html")
    assert "No model to evaluate" in page and ">Confusion matrix</h2>" not in page and ">Config</h2>" in page


def test_report_when_the_data_is_gone(runner, tmp_path):
    run = copy_run(mnist_run(), tmp_path)
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "data_path": str(tmp_path / "gone.npz")}))
    _, page = _report(runner, run, tmp_path / "r.html")
    assert "The data could not be read, so there is no evaluation" in page and "gone.npz" in page


def test_report_to_a_folder_that_is_not_there(runner, tmp_path):
    out = tmp_path / "missing" / "r.html"
    result = runner.invoke(main, ["report", str(mnist_run()), "-o", str(out)])
    assert result.exit_code == 2
    assert result.output == f"Error: {out}: cannot be written (No such file or directory); give -o FILE to write the report elsewhere\n"


def test_evaluate_writes_the_mistakes_gallery(runner, tmp_path):
    from PIL import Image

    run = copy_run(mnist_run(), tmp_path)
    result = runner.invoke(main, ["evaluate", str(run)])
    assert result.exit_code == 0, result.output
    assert f"Wrote {run / 'mistakes.png'}" in result.output
    with Image.open(run / "mistakes.png") as image:
        assert image.format == "PNG" and image.width >= 1000


def test_mistakes_are_the_wrong_ones_most_confident_first():
    from cnn_cli.reports.plots import mistakes

    x = np.arange(4 * 2 * 2).reshape(4, 2, 2, 1).astype(np.uint8)
    y = np.array([0, 1, 1, 0])
    p = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]])
    sources = ["photos/a/0.png", "photos/Shirt/0001.jpg", "c.png", "/home/me/photos/Coat/0005.jpg"]
    images, captions = mistakes(x, y, p, ["cat", "dog"], sources=sources)
    assert images.tolist() == x[[3, 1]].tolist()
    assert captions == ["true: cat\npred: dog 0.70\nCoat/0005.jpg", "true: dog\npred: cat 0.60\nShirt/0001.jpg"]
    _, captions = mistakes(x, y, p, ["cat", "dog"], sources=[f"x.npz [y_test] index {i}" for i in range(4)])
    assert [c.splitlines()[-1] for c in captions] == ["index 3", "index 1"]


def _overlaps(fig, axis: str) -> int:
    """How many neighbouring tick labels overlap. Labels at 0 degrees are compared by their boxes; rotated
    labels are parallel strips, apart by spacing * sin(angle), which must be at least a label's height."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    labels = [t for t in (ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()) if t.get_text()]
    angle = labels[0].get_rotation() % 180
    if angle == 0 or (axis == "y" and angle == 0):
        boxes = [t.get_window_extent(renderer) for t in labels]
        return sum(a.overlaps(b) for a, b in zip(boxes, boxes[1:]))
    ticks = ax.get_xticks() if axis == "x" else ax.get_yticks()
    positions = ax.transData.transform([(t, t) for t in ticks])[:, 0 if axis == "x" else 1]
    spacing = float(np.min(np.abs(np.diff(positions))))
    heights = []
    for t in labels:
        t.set_rotation(0)
        heights.append(t.get_window_extent(renderer).height)
        t.set_rotation(angle)
    return sum(spacing * np.sin(np.radians(angle)) < max(a, b) for a, b in zip(heights, heights[1:]))


@pytest.mark.parametrize("k", [10, 24, 100])
def test_confusion_labels_do_not_overlap(k):
    from cnn_cli.reports.plots import confusion_figure

    names = [f"class {i} {FASHION[i % 10]}" for i in range(k)]
    fig = confusion_figure(np.eye(k, dtype=int) * 50, names, "test")
    assert _overlaps(fig, "x") == 0 and _overlaps(fig, "y") == 0
    assert fig.get_size_inches()[0] * fig.dpi <= 2600


def test_comparison_bar_labels_do_not_touch():
    from cnn_cli.reports.plots import comparison_figure

    variants = [SimpleNamespace(settings=[("train.optimizer", o), ("train.batch_size", b)], status="complete",
                                values={"best_val_accuracy": 0.9, "test_accuracy": 0.88})
                for o in ("adam", "rmsprop", "sgd", "{name: adam, learning_rate: 1e-4}") for b in ("32", "128")]
    assert _overlaps(comparison_figure(variants), "x") == 0


def test_compare_page_overlays_every_variant(tmp_path):
    from cnn_cli.reports.compare_page import histories, write_compare_page

    run = mnist_run()
    variants = [SimpleNamespace(label=f"train.optimizer={o}", settings=[("train.optimizer", o)], status=s, run_dir=str(r),
                                values={"best_val_accuracy": None, "test_accuracy": a}, rank=None, test_loss=1.0,
                                epochs=1, seconds=3.0, error="")
                for o, s, r, a in (("adam", "complete", run, 0.5), ("<sgd>", "diverged", "", None))]
    assert [label for label, _ in histories(variants)] == ["train.optimizer=adam"]
    write_compare_page(variants, tmp_path)
    page = (tmp_path / "comparison.html").read_text()
    assert "train.optimizer=&lt;sgd&gt;" in page and "1 of 2 variants did not complete" in page
    assert page.count('<img src="data:image/png;base64,') == 2
    assert (tmp_path / "comparison_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_report_of_a_format_1_run_scales_its_pixels(runner, tmp_path):
    """A run written before the model scaled its own input: the report feeds it [0, 1] pixels and so finds the
    test accuracy and loss the run recorded."""
    import shutil

    run = tmp_path / "run_format1"
    shutil.copytree(ROOT / "tests" / "fixtures" / "run_format1", run)  # made before run.json had a format
    recorded = json.loads((run / "metrics.json").read_text())
    _, page = _report(runner, run, tmp_path / "r.html")
    assert _card(page, "test accuracy") == pytest.approx(recorded["test_accuracy"], abs=1e-4)
    assert _card(page, "test loss (cross-entropy)") == pytest.approx(recorded["test_loss"], abs=2e-3)


def _phase_lines(figure) -> list[list[float]]:
    """Each axis's vertical lines (the phase marks): their x positions."""
    return [[line.get_xdata()[0] for line in ax.get_lines() if len(set(line.get_xdata())) == 1] for ax in figure.axes]


def test_report_curves_mark_the_phases(runner, tmp_path):
    """As training_curves.png does: a dotted line before the first epoch of phase 2 (epoch 3), from history.csv's
    phase column, and a caption that says the phases' epochs with what metrics.json records of them."""
    from cnn_cli.reports.access import read_history_file
    from cnn_cli.reports.plots import curves_figure
    from cnn_cli.reports.run_page import gather
    from cnn_cli.reports.run_page_sections import phases_caption
    from cnn_cli.reports.training_curves import curves_figure as training_figure

    run = phased_run()
    _, page = _report(runner, run, tmp_path / "r.html")
    assert ("Dotted lines mark where each phase begins. phase 1: epochs 1-2 (frozen until body_bn, learning rate "
            "0.003); phase 2: epoch 3 (every layer trains, learning rate 0.0003).</p>") in page
    rows = gather(str(run)).history
    assert [r["phase"] for r in rows] == [1, 1, 2]
    assert _phase_lines(curves_figure([("run", rows)])) == [[2.5], [2.5]]  # loss and accuracy
    assert _phase_lines(training_figure(rows))[:2] == [[2.5], [2.5]]  # the same marks, the same code
    without = [{**r, "phase": None} for r in rows]
    assert _phase_lines(curves_figure([("run", without)])) == [[], []]
    assert _phase_lines(curves_figure([("a", rows), ("b", rows)])) == [[], []]  # compare's overlay: no marks
    plain = read_history_file(mnist_run() / "history.csv")
    assert plain and phases_caption(plain, {}) == ""  # a run without phases: no caption
