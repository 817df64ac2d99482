"""Two `cnn tune` processes on one study in a real PostgreSQL server (Debian's `postgresql` package), which the
test starts on loopback in a folder of its own and stops: every trial is run once, by one of them."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("optuna")
pytest.importorskip("psycopg")
BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), None) or (
    str(Path(shutil.which("initdb")).parent) if shutil.which("initdb") else None)
if BIN is None or not Path(BIN, "pg_ctl").is_file():
    pytest.skip("PostgreSQL's initdb and pg_ctl are not installed (Debian: apt-get install postgresql)", allow_module_level=True)

from tests.run_helpers import ROOT, TINY  # noqa: E402


def _as_server_user():
    """initdb refuses root: as root, the server's programs run as the `postgres` user."""
    if os.geteuid() != 0:
        return None
    user = pwd.getpwnam("postgres")

    def switch():
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return switch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    """A PostgreSQL server on 127.0.0.1 (trust authentication, user postgres), its data in a folder the server's
    user can reach; stopped and removed after the test."""
    folder = Path(tempfile.mkdtemp(prefix="cnn-pg-", dir="/tmp"))
    switch = _as_server_user()
    if switch is not None:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    data, port = folder / "data", _free_port()
    run = dict(preexec_fn=switch, capture_output=True, text=True, timeout=120, cwd=folder)
    try:
        made = subprocess.run([f"{BIN}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"], **run)
        assert made.returncode == 0, made.stdout + made.stderr
        started = subprocess.run([f"{BIN}/pg_ctl", "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
                                  f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start"], **run)
        assert started.returncode == 0, started.stdout + started.stderr + (folder / "log").read_text()
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([f"{BIN}/pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"], **run)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_processes_share_one_study(server, tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNN_TEST_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    args = [sys.executable, "-m", "cnn_cli", "tune", "--config", str(config), "--storage", server, "--study", "shared",
            "--param", "train.optimizer.learning_rate=loguniform(1e-3,1e-2)", "--param",
            "model.layers[0].filters=choice(4,8)", "--trials", "6", "--sampler", "random", "--pruner", "none",
            "--epochs", "1", "--seed", "5"]
    # as on two machines: each process has its own folder for its trials' run directories
    procs = [subprocess.Popen([*args, "--study-dir", str(tmp_path / f"host{i}")], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in (0, 1)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = optuna.load_study(study_name="shared", storage=server).get_trials()
    finished = [t for t in trials if t.state.name == "COMPLETE"]
    assert 6 <= len(finished) <= 7 and len(finished) == len(trials), [t.state for t in trials]
    assert {t.user_attrs["pid"] for t in trials} == {p.pid for p in procs}  # both took part
    runs = sorted(Path(t.user_attrs["run_dir"]) for t in trials)
    assert len(set(runs)) == len(runs)  # each trial run once, in one run directory
    on_disk = sorted(p for i in (0, 1) for p in (tmp_path / f"host{i}").glob("trial-*"))
    assert on_disk == runs
    for run in runs:
        record = json.loads((run / "run.json").read_text())
        assert record["status"] == "complete" and record["resumed"] == [] and record["tune"]["study"] == "shared"
    assert all("Best: trial" in out for out in outputs)
