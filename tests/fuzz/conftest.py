"""Hypothesis profiles of the fuzzer, and its tally of outcomes printed at the end of the session.

- `ci` (the default, `make test`): derandomized, a few examples per test, about a minute in all;
- `fuzz` (`make fuzz`, selected by CNN_FUZZ_EXAMPLES=N): N examples per test, random, failures counted and
  listed instead of stopping the search.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from tests.fuzz.harness import FAILURES, OUTCOMES, TALLY

_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
         HealthCheck.function_scoped_fixture]
settings.register_profile("ci", derandomize=True, max_examples=8, deadline=None, suppress_health_check=_SLOW,
                          database=None, print_blob=True)
settings.register_profile("fuzz", max_examples=int(os.environ.get("CNN_FUZZ_EXAMPLES") or 1000), deadline=None,
                          suppress_health_check=_SLOW, database=None)
settings.load_profile("fuzz" if os.environ.get("CNN_FUZZ_EXAMPLES") else "ci")


def pytest_terminal_summary(terminalreporter):
    if not TALLY:
        return
    write = terminalreporter.write_line
    write(f"fuzz: {sum(TALLY.values())} cases: " + ", ".join(f"{name} {TALLY[name]}" for name in OUTCOMES))
    for line in FAILURES[:50]:
        write(f"  {line}")
    if len(FAILURES) > 50:
        write(f"  and {len(FAILURES) - 50} more")


def pytest_sessionfinish(session, exitstatus):
    if FAILURES and exitstatus == 0:
        session.exitstatus = 1
