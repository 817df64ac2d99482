"""The exported JSON Schema is current and describes the configs in configs/."""

import json

from cnn_cli.cli import main
from cnn_cli.commands.schema import config_schema
from tests.conftest import ROOT


def test_shipped_schema_is_up_to_date():
    shipped = json.loads((ROOT / "cnn_cli" / "schema" / "config.schema.json").read_text())
    assert shipped == config_schema(), "run: cnn schema -o cnn_cli/schema/config.schema.json"


def test_schema_lists_the_layer_vocabulary(runner):
    result = runner.invoke(main, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert set(schema["required"]) == {"name", "model"}
    assert "Inception" in schema["$defs"] and "MinPool2D" in schema["$defs"]
    assert schema["$defs"]["Conv2D"]["additionalProperties"] is False
