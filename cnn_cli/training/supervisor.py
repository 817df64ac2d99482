"""A parent process for each process of a multi-process JAX run (`distribute.strategy: data_parallel` with
JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID or Slurm), so that a lost process ends the
others with exit code 4 and one line, as under tf.distribute.

When a process of the run dies, JAX's coordination service ends every survivor from C++ (abort: exit code
134, after its heartbeat timeout) before Python can say anything. So `cnn train` runs the training in a
child process (`run`) and waits: a child that aborts -> the one line, run.json marked failed (process 0), exit
code 4; a child killed by a signal -> this process ends by the same signal (the launcher sees the same death);
every other exit code is passed on. The child's C++ log lines (absl: `E1206 ...`, `F1206 ...`, stack frames)
go to a log file named in that line instead of the screen. The child tells the parent its run directory
through a file (`note_run_dir`), and dies with its parent (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from cnn_cli import rundir
from cnn_cli.errors import EXIT_WORKER_LOST

CHILD_ENV = "CNN_SUPERVISED_RUN_FILE"  # set in the child: where it writes its run directory
_ABSL = re.compile(r"^([IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s|\s+@\s+0x|\*\*\* Check failure stack trace|RPC: /xla\.|"
                   r"Barrier result: |The tasks have crashed|\d+$|INTERNAL: |UNAVAILABLE: |"
                   r"This suggests that the workers are out of sync)")
_ABORTED = (134, -signal.SIGABRT)


def wanted(backend_name: str, worker) -> bool:
    """Whether this `cnn train` should supervise a child: the JAX backend, one of several processes (`worker`,
    from `distribute.jax_worker`), not the child itself."""
    return not os.environ.get(CHILD_ENV) and backend_name == "jax" and worker is not None


def note_run_dir(run_dir: Path) -> None:
    """In the child: tells the parent which run directory to name on `--resume`."""
    path = os.environ.get(CHILD_ENV)
    if path:
        Path(path).write_text(str(run_dir), encoding="utf-8")


def note_lost() -> None:
    """In the child: it has said in its own line that a process was lost (the parent then adds none)."""
    path = os.environ.get(CHILD_ENV)
    if path:
        Path(path + ".lost").write_text("lost", encoding="utf-8")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _forward(stream, log_path: Path) -> None:
    """The child's stderr: its lines to ours, but JAX's C++ log lines to `log_path`."""
    with log_path.open("a", encoding="utf-8", errors="replace") as log:
        for line in stream:
            if _ABSL.match(line):
                log.write(line)
                log.flush()
            else:
                sys.stderr.write(line)
                sys.stderr.flush()


def run(argv: list[str], worker) -> int:
    """Runs `python -m cnn_cli ARGV` as a child and returns the exit code to end with (see the module's
    docstring); a signal that kills the child is re-raised here. `worker`: this process's place in the run."""
    folder = Path(tempfile.mkdtemp(prefix=f"cnn-{worker.task.replace(':', '')}-supervisor-"))
    note, log_path = folder / "run_dir", folder / "jax.log"
    child = subprocess.Popen([sys.executable, "-m", "cnn_cli", *argv], env=os.environ | {CHILD_ENV: str(note)},
                             stderr=subprocess.PIPE, text=True, errors="replace", preexec_fn=_die_with_parent)
    reader = threading.Thread(target=_forward, args=(child.stderr, log_path), daemon=True)
    reader.start()
    previous = {s: signal.signal(s, lambda sig, _frame: child.send_signal(sig)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    reader.join(timeout=5)
    if code not in _ABORTED:
        if code < 0:  # killed: end the same way, so that a launcher sees what happened to the process
            sys.stdout.flush()
            if -code not in (signal.SIGKILL, signal.SIGSTOP):
                signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
        return code
    if Path(str(note) + ".lost").is_file():  # the child said so itself, then JAX aborted it on the way out
        return EXIT_WORKER_LOST
    run_dir = note.read_text(encoding="utf-8").strip() if note.is_file() else None
    if run_dir and worker.is_chief:
        _mark_failed(Path(run_dir))
    resume = f"cnn train --resume {run_dir}" if run_dir else "cnn train --resume RUN_DIR"
    print(f"Error: multi-process training stopped: JAX ended process {worker.rank} of {worker.workers} because "
          f"another process died or cannot be reached (its log: {log_path}); restart every process with: "
          f"{resume}", file=sys.stderr, flush=True)
    return EXIT_WORKER_LOST


def _mark_failed(run_dir: Path) -> None:
    try:
        record = rundir.RunRecord.load(run_dir)
        if record.status == "running":
            record.mark("failed", error="a process of the run was lost")
    except Exception:  # run.json unreadable or not written yet: nothing to mark
        pass
