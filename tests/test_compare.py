"""`cnn compare`: the grid of --vary values, one `cnn train` subprocess per variant, the table, CSV and chart."""

from __future__ import annotations

import csv
import json
import re

import pytest

from cnn_cli.cli import main
from cnn_cli.errors import ConfigError
from cnn_cli.studies.compare import make_variants, parse_vary
from tests.run_helpers import MNIST_NPZ, ROOT

MNIST = ["--config", str(ROOT / "configs" / "mnist.yaml"), "--data", str(MNIST_NPZ)]


def _rows(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_compare_two_optimizers(runner, tmp_path):
    out = tmp_path / "cmp"
    result = runner.invoke(main, ["compare", *MNIST, "--vary", "train.optimizer=adam,sgd", "--subset", "300",
                                  "--epochs", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "train.optimizer=adam" in result.output and "train.optimizer=sgd" in result.output
    assert "best val acc" in result.output and "test acc" in result.output
    for optimizer in ("adam", "sgd"):  # each variant's figure as it ends
        assert re.search(rf"\[\d/2\] train.optimizer={optimizer}: complete, test acc 0\.\d{{4}} in ", result.output)
    table = result.output[result.output.index("variant "):].splitlines()[:5]
    assert table[-1] == "(ranked by test accuracy (higher is better); best first)"
    shown = [float(line.split()[-3]) for line in table[2:4]]  # the test acc column
    assert shown == sorted(shown, reverse=True)

    rows = _rows(out / "comparison.csv")
    assert [r["variant"] for r in rows] == ["train.optimizer=adam", "train.optimizer=sgd"]
    assert [r["train.optimizer"] for r in rows] == ["adam", "sgd"]
    assert all(r["status"] == "complete" and r["epochs"] == "1" for r in rows)
    assert (out / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "comparison.html").read_text()  # the page: the table, the curves overlaid, the bars
    assert page.count("<tr><td>train.optimizer=") == 2 and (out / "comparison_curves.png").read_bytes()[:4] == b"\x89PNG"
    seeds = set()
    for row, optimizer in zip(rows, ("adam", "sgd")):
        run = out / f"optimizer-{optimizer}"
        assert row["run_dir"] == str(run) and (run / "model.keras").is_file()
        metrics = json.loads((run / "metrics.json").read_text())
        assert float(row["test_accuracy"]) == pytest.approx(metrics["test_accuracy"])
        assert metrics["test_examples"] == 300 and metrics["epochs_run"] == 1
        config = (run / "config.yaml").read_text()
        assert f"name: {optimizer}" in config
        seeds.add(metrics["seed"])
    assert seeds == {42}  # the config's seed, the same for every variant


def test_compare_failed_variants_are_reported(runner, tmp_path):
    out = tmp_path / "bad"
    # images of the wrong size: each variant's `cnn train` fails on the data, after the configs were accepted
    result = runner.invoke(main, ["compare", *MNIST, "--vary", "data.image_shape=[32,32,1],[30, 30, 1]",
                                  "--subset", "50", "--epochs", "1", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Error: every variant failed" in result.output and "Traceback" not in result.output
    rows = _rows(out / "comparison.csv")
    assert [r["variant"] for r in rows] == ["data.image_shape=[32,32,1]", "data.image_shape=[30, 30, 1]"]
    assert all(r["status"] == "failed (exit 2)" and "data.image_shape" in r["error"] for r in rows)
    assert (out / "comparison.png").is_file()
    assert (out / "image_shape-32321.log").is_file()


def test_compare_checks_every_variant_before_training(runner, tmp_path):
    out = tmp_path / "never"
    result = runner.invoke(main, ["compare", *MNIST, "--vary", "train.optimizer=adam,bogus", "--out", str(out)])
    assert result.exit_code == 2 and "train.optimizer" in result.output and "bogus" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()

    result = runner.invoke(main, ["compare", *MNIST, "--vary", "train.optimizer"])
    assert result.exit_code == 2 and "expected key.path=value1,value2" in result.output

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    result = runner.invoke(main, ["compare", *MNIST, "--vary", "train.epochs=1,2", "--out", str(tmp_path / "full")])
    assert result.exit_code == 2 and "not an empty directory" in result.output


def test_grid_and_names():
    variants = make_variants([parse_vary("train.optimizer=adam,sgd"), parse_vary("train.batch_size=32,64,128")])
    assert len(variants) == 6
    assert variants[1].settings == [("train.optimizer", "adam"), ("train.batch_size", "64")]
    assert variants[1].name == "optimizer-adam_batch_size-64"
    assert variants[1].overrides == ["train.optimizer=adam", "train.batch_size=64"]
    assert parse_vary("model.input_shape=[28, 28, 1],{a: 1, b: 2},'x,y'").values == ["[28, 28, 1]", "{a: 1, b: 2}", "'x,y'"]
    for bad in ("train.optimizer=", "train.optimizer=adam,,sgd", "=adam", "train.optimizer=adam,adam"):
        with pytest.raises(ConfigError):
            parse_vary(bad)
    with pytest.raises(ConfigError):
        make_variants([parse_vary("train.optimizer=adam,sgd"), parse_vary("train.optimizer.learning_rate=0.1")])


def test_vary_reaches_layers():
    vary = parse_vary("model.layers[0].filters=16,32")
    assert (vary.key, vary.values) == ("model.layers[0].filters", ["16", "32"])
    variants = make_variants([vary, parse_vary("model.layers[2].activation=relu,elu")])
    assert [v.name for v in variants[:2]] == ["filters-16_activation-relu", "filters-16_activation-elu"]
    with pytest.raises(ConfigError, match="varied twice"):
        make_variants([parse_vary("model.layers[0]={type: flatten},{type: dense, units: 3}"),
                       parse_vary("model.layers[0].filters=16,32")])
    with pytest.raises(ConfigError, match=r"^--vary: model\.layers\[0\]\.\.filters=1,2: expected key.path=value1,value2"):
        parse_vary("model.layers[0]..filters=1,2")


@pytest.mark.parametrize("vary,expected", [
    ("model.layers[0].filters=16,0", "Error: --vary: model.layers[0].filters: expected a positive integer, received 0"),
    ("model.layers[12].filters=16,32", "Error: --vary: model.layers[12]: index out of range: model.layers has 9 items"),
    ("train.optimizer.learning_rate=0.1,[x", "Error: --vary train.optimizer.learning_rate: invalid YAML"),
])
def test_vary_errors_say_vary(runner, tmp_path, vary, expected):
    out = tmp_path / "never"
    result = runner.invoke(main, ["compare", *MNIST, "--vary", vary, "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith(expected), result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_compare_some_variants_failed_exits_2_and_names_them(runner, tmp_path):
    out = tmp_path / "some"
    # the first image shape fits the MNIST sample, the second fails in its `cnn train`
    result = runner.invoke(main, ["compare", *MNIST, "--vary", "data.image_shape=[28,28,1],[30,30,1]",
                                  "--subset", "50", "--epochs", "1", "--out", str(out)])
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]
    assert last == (f"Error: 1 of 2 variants did not complete: data.image_shape=[30,30,1] (failed (exit 2)); "
                    f"see their logs in {out}")
    assert [r["status"] for r in _rows(out / "comparison.csv")] == ["complete", "failed (exit 2)"]


def test_one_number_parser_for_csv_json_and_keras_values():
    import math

    import numpy as np

    from cnn_cli.number_format import to_float

    assert [to_float(v) for v in ("0.93", 2, np.float32(0.5), "", None, "x", [1])] == [0.93, 2.0, 0.5, None, None, None, None]
    assert math.isnan(to_float("nan")) and to_float("inf") == math.inf
    assert [to_float(v, finite=True) for v in ("nan", "inf", "-inf", "0.25")] == [None, None, None, 0.25]


@pytest.mark.parametrize(("config", "figures", "lower", "as_json", "values"), [
    ("regression_count.yaml", ["val_mae", "test_mae", "test_r2"], True, False, "16"),  # one cnn train process
    pytest.param("multilabel_digits.yaml", ["val_micro_f1", "test_micro_f1", "test_mean_average_precision"], False,
                 True, "16,32", marks=pytest.mark.slow),  # two, 20 to 50 s each on 2 busy cores
])
def test_compare_uses_the_tasks_own_figures(runner, tmp_path, config, figures, lower, as_json, values):
    """On the shipped multi-label and regression data: the table, comparison.csv, --json and the page carry the
    task's figures (from each run's metrics.json), the variants ranked by the validation figure in the task's
    direction (MAE: lower is better), and the overlaid curves draw the task's metrics."""
    from cnn_cli.reports.compare_page import histories
    from cnn_cli.reports.plots import curves_figure
    from cnn_cli.studies.compare import Variant

    out = tmp_path / "cmp"
    result = runner.invoke(main, ["compare", "--config", str(ROOT / "configs" / config), "--vary",
                                  f"train.batch_size={values}", "--subset", "48", "--epochs", "1", "--out", str(out),
                                  *(["--json"] if as_json else [])])
    assert result.exit_code == 0, result.output
    rows = _rows(out / "comparison.csv")
    assert list(rows[0])[:6] == ["variant", "status", "rank", *figures]
    for row in rows:
        metrics = json.loads((out / row["run_dir"] / "metrics.json").read_text())
        assert all(float(row[key]) == pytest.approx(metrics[key]) for key in figures)
    ranked = sorted(rows, key=lambda r: float(r[figures[0]]), reverse=not lower)  # best first
    assert [r["rank"] for r in ranked] == ["1", "2"][:len(rows)] or ranked[0][figures[0]] == ranked[-1][figures[0]]
    said = f"ranked by val {'MAE (lower' if lower else 'micro F1 (higher'} is better)"
    if as_json:
        found = json.loads(result.output[result.output.index("{"):])
        assert found["figures"] == figures and found["lower_is_better"] is lower and found["ranked_by"] == figures[0]
        assert [v["settings"] for v in found["variants"]] == [{"train.batch_size": v} for v in values.split(",")]
        assert [v["rank"] for v in found["variants"]] == [int(r["rank"]) for r in rows]
    else:
        lines = result.output.splitlines()
        head = next(i for i, line in enumerate(lines) if line.startswith("variant"))
        assert lines[head].split()[:6] == ["variant", "status", "rank", "val", "MAE", "test"]
        assert [line.split()[0] for line in lines[head + 2:head + 2 + len(rows)]] == [r["variant"] for r in ranked]
        assert f"({said}; best first)" in result.output
    page = (out / "comparison.html").read_text()
    assert said in page and "accuracy" not in page
    series = histories([Variant(name=r["variant"], settings=[], run_dir=r["run_dir"]) for r in rows])
    figure = curves_figure(series)
    assert [ax.get_title() for ax in figure.axes] == (["loss", "mae", "rmse"] if lower else ["loss", "auc", "f1"])
    assert all(len(ax.get_lines()) == 2 * len(rows) for ax in figure.axes)  # each variant's training, validation


def test_ranks_follow_the_tasks_direction():
    """Variants ranked by the headline's validation figure (else its test figure), best first: MAE downwards,
    micro F1 upwards; equal figures share a rank; a variant without the figure, or that did not complete, has none."""
    from cnn_cli.studies.compare import Variant, figures_of, rank, ranking_key

    def variants(key, numbers, statuses=None):
        return [Variant(name=str(i), settings=[("k", str(i))], status=(statuses or {}).get(i, "complete"),
                        values={key: x}) for i, x in enumerate(numbers)]

    regression = figures_of("regression")
    found = variants("val_mae", [0.4, 0.1, None, 0.1, 0.3])
    rank(found, regression)
    assert [v.rank for v in found] == [4, 1, None, 1, 3] and ranking_key(found, regression) == "val_mae"
    multilabel = figures_of("multilabel")
    found = variants("test_micro_f1", [0.4, 0.9, 0.7], {1: "diverged"})
    rank(found, multilabel)
    assert [v.rank for v in found] == [2, None, 1] and ranking_key(found, multilabel) == "test_micro_f1"
    assert regression.lower_is_better and not multilabel.lower_is_better and not figures_of("classification").lower_is_better
    assert figures_of("classification").keys == ("best_val_accuracy", "test_accuracy")


def test_legends_show_only_what_differs_with_short_unique_labels():
    """Two --vary keys over six variants: each legend label names the two keys by their last part, no label is
    cut, all differ; the curves' legend has one entry per variant (the line styles in the title)."""
    from cnn_cli.reports.plots import curves_figure

    variants = make_variants([parse_vary("train.optimizer.learning_rate=0.001,0.003,0.01"),
                              parse_vary("train.batch_size=32,128"), parse_vary("model.layers[0].filters=16")])
    labels = [v.short for v in variants]
    assert labels[0] == "learning_rate=0.001, batch_size=32" and len(set(labels)) == 6
    assert all("filters" not in label and "..." not in label for label in labels)  # the same in every variant
    rows = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.2 / e, "accuracy": 0.5, "val_accuracy": 0.4} for e in (1, 2)]
    figure = curves_figure([(v.short, rows) for v in variants], "training curves, overlaid")
    legend = [t.get_text().replace("\n", " ") for t in figure.axes[0].get_legend().get_texts()]
    assert legend == labels
    assert "solid: validation, dashed: training" in figure._suptitle.get_text()
