"""A run's phases as its history.csv has them (the `phase` column, 1-based, empty or absent in a run without
`train.phases`), and the dotted line that marks where each phase begins on a matplotlib axis of epochs.

Shared by training_curves.png (`training/plots.py`) and the HTML report's curves (`readers/plots.py`), so
that both mark the phases alike; rows are history.csv's, as text or as read through its schema.
"""

from __future__ import annotations

from collections.abc import Sequence


def _phase(row: dict) -> int | None:
    value = row.get("phase")
    return None if value in (None, "") else int(value)


def phase_ranges(rows: Sequence[dict]) -> list[tuple[int, int, int]]:
    """(phase, first epoch, last epoch) of each phase the rows ran, in order; [] for a run without phases."""
    out: list[tuple[int, int, int]] = []
    for row in rows:
        phase, epoch = _phase(row), int(row["epoch"])
        if phase is None:
            continue
        if out and out[-1][0] == phase:
            out[-1] = (phase, out[-1][1], epoch)
        else:
            out.append((phase, epoch, epoch))
    return out


def phase_starts(rows: Sequence[dict]) -> list[tuple[int, int]]:
    """(epoch, phase) of each epoch that begins a phase after the first."""
    return [(first, phase) for phase, first, _ in phase_ranges(rows)[1:]]


def mark_phases(ax, rows: Sequence[dict]) -> None:
    """A dotted grey line half an epoch before each phase's first epoch, labelled `phase N` at the top."""
    for epoch, phase in phase_starts(rows):
        ax.axvline(epoch - 0.5, color="gray", linestyle=":", linewidth=1)
        ax.annotate(f"phase {phase}", (epoch - 0.5, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                    textcoords="offset points", fontsize=8, color="gray")
