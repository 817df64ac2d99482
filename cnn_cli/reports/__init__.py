"""What people look at: `cnn summary`'s table (`summary`), every chart (`plots`, `training_curves` with the
phase marks), `cnn inspect`'s images (`inspection`, `inspect_figures`, `pixels`) and the HTML pages of a run
(`run_page`, `run_page_sections`) and of a comparison (`compare_page`), all from what `cnn_cli.inference` and
`cnn_cli.rundir` give (`access`)."""
