"""The `train.track` section: where a run is also recorded besides its run directory (MLflow; docs/tracking.md).

Checked here without MLflow (an optional, slow package): a tracking URI of a scheme MLflow has no store for is a
config error before TensorFlow starts."""

from __future__ import annotations

from urllib.parse import urlparse

from pydantic import Field, field_validator

from cnn_cli.config.section import Section

SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "databricks")
"""The schemes of MLflow's tracking stores (a database's may name its driver: `postgresql+psycopg://`); not
`file:`, the file store, which MLflow 3 refuses unless MLFLOW_ALLOW_FILE_STORE is set."""
DATABASES = ("sqlite", "postgresql", "mysql", "mssql")


def uri_problem(uri: str) -> str | None:
    """Why MLflow cannot track to `uri` (None: it can, as far as its form says)."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    base = scheme.split("+", 1)[0]
    expected = ("expected an MLflow tracking URI: http(s)://HOST[:PORT], sqlite:///FILE.db, "
                "postgresql://..., mysql://..., mssql://... or databricks")
    if not scheme:
        return f"{expected} (no scheme)"
    if scheme == "file":
        return f"{expected} (MLflow keeps its file store for old data only: give a database, sqlite:///FILE.db)"
    if base not in SCHEMES or ("+" in scheme and base not in DATABASES):
        return f"{expected} (unknown scheme {scheme!r})"
    if base in ("http", "https") and not parsed.hostname:
        return f"{expected} (no host)"
    if base == "sqlite" and not parsed.path.strip("/"):
        return f"{expected} (no database file)"
    return None


class Mlflow(Section):
    """An MLflow run for each training run: the config as params, each epoch's metrics, tags, the run directory's
    files as artifacts; `cnn tune`'s trials nested under the study's run."""

    tracking_uri: str | None = Field(
        None, description="Where the runs are recorded: an MLflow server (http://127.0.0.1:5000) or a database "
        "(sqlite:///FILE.db, postgresql://...). Default: sqlite:///<the runs' folder>/mlflow.db, with the "
        "artifacts in <the runs' folder>/mlartifacts: offline, with nothing to start.")
    experiment: str | None = Field(
        None, min_length=1, max_length=500, description="The MLflow experiment the runs go into (made when new). "
        "Default: the config's name.")
    report: bool = Field(
        True, description="Write the run's page (report.html, as cnn report does: the test split evaluated once "
        "more, its figures drawn) at the end, for MLflow's UI to show with the other files.")

    @field_validator("tracking_uri")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None:
            problem = uri_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value


class Track(Section):
    mlflow: Mlflow | None = Field(
        None, description="Record the run in MLflow (pip install 'cnn-cli[mlflow]'); `mlflow: {}` or "
        "`mlflow: true` takes the defaults.")

    @field_validator("mlflow", mode="before")
    @classmethod
    def _true_is_defaults(cls, value):
        return {} if value is True else None if value is False else value
