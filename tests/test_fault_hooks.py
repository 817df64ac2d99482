"""The test-only fault hooks: read in `cnn_cli.faults` alone, inert unless their variable is set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cnn_cli import faults

PACKAGE = Path(__file__).resolve().parents[1] / "cnn_cli"


def test_only_the_faults_module_reads_the_variables():
    readers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                     if "CNN_TEST_" in p.read_text(encoding="utf-8"))
    assert readers == ["faults.py"]


def test_inert_without_variables(monkeypatch):
    for name in faults.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert not faults.active()
    faults.point("mid_epoch")
    faults.epoch_end(1)  # neither kills nor raises


def test_stop_after_epoch_raises_at_that_epoch_only(monkeypatch):
    monkeypatch.setenv(faults.STOP_AFTER_EPOCH, "2")
    assert faults.active()
    faults.epoch_end(1)
    with pytest.raises(KeyboardInterrupt):
        faults.epoch_end(2)


@pytest.mark.parametrize("setting, reached, killed", [
    ("final_save", ["mid_epoch", "final_save"], True),
    ("final_save:2", ["final_save"], False),
    ("final_save:2", ["final_save", "final_save"], True),
    ("backup_write", ["final_save", "mid_epoch"], False),
])
def test_kill_point_counts(setting, reached, killed):
    code = "from cnn_cli import faults\n" + "".join(f"faults.point({p!r})\n" for p in reached) + "print('alive')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"CNN_TEST_KILL_AT": setting, "PYTHONPATH": str(PACKAGE.parent)}, timeout=60)
    assert (result.returncode == -9) is killed, result.stderr
    assert ("alive" in result.stdout) is not killed


def test_kill_after_epoch():
    code = "from cnn_cli import faults\nfaults.epoch_end(1)\nprint('after 1', flush=True)\nfaults.epoch_end(2)\nprint('after 2')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"CNN_TEST_KILL_AFTER_EPOCH": "2", "PYTHONPATH": str(PACKAGE.parent)}, timeout=60)
    assert result.returncode == -9 and result.stdout.split() == ["after", "1"], result


def test_sigint_at_sends_a_real_sigint_at_the_nth_point():
    # SIGINT as in a terminal: a shell's background job (CI started with `&`) inherits SIGINT ignored
    code = ("import signal, time\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "from cnn_cli import faults\ntry:\n    faults.point('mid_epoch')\n    print('after 1', flush=True)\n"
            "    faults.point('mid_epoch')\n    time.sleep(30)\nexcept KeyboardInterrupt:\n    print('interrupted')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"CNN_TEST_SIGINT_AT": "mid_epoch:2", "PYTHONPATH": str(PACKAGE.parent)}, timeout=60)
    assert result.stdout.split("\n")[:2] == ["after 1", "interrupted"], result
