"""Reading a finished (or running) run back: `run_reader` (config, run.json, class map, model), `evaluation`,
`prediction` and `compare`; `inspect` (feature maps, filters, Grad-CAM) and `report` (one HTML page) with the
charts they share (`plots`). Readers go through `cnn_cli.rundir` and `cnn_cli.model`, never `cnn_cli.training`."""
