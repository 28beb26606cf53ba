"""Test hook for crash-safety tests: die after the N-th durable write of this process.

When the environment variable PERPHEDGE_TEST_CRASH_AFTER=N is set, the N-th call of
`durable_write_done` ends the process at once with `os._exit(137)` (as SIGKILL would: no
cleanup, no flush, no finally blocks). The journal calls it after every commit and the paper
exchange after every state save, so a kill test can stop a run between any two writes.
Unset (the normal case) it does nothing.
"""

from __future__ import annotations

import os

ENV_VAR = "PERPHEDGE_TEST_CRASH_AFTER"
_writes = [0]


def durable_write_done() -> None:
    """Count one durable write; exit abruptly when the configured count is reached."""
    limit = os.environ.get(ENV_VAR)
    if not limit:
        return
    _writes[0] += 1
    if _writes[0] >= int(limit):
        os._exit(137)
