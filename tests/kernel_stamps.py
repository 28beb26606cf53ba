"""One modification time for the files the backtest kernels are compiled from (on import).

numba caches a compiled kernel keyed on the stamp (modification time and size) of the file it is
defined in, but the kernels inline code from their sibling modules and from margin.py,
funding.py and hedge/keeper.py. Giving all those files the newest one's modification time before the kernels are
imported makes an edit in any of them compile the kernels afresh instead of running a stale
cached copy. conftest.py imports this module before anything imports the kernels.
"""

from __future__ import annotations

import os
from pathlib import Path

import perphedge

SRC = Path(perphedge.__file__).parent
FILES = [
    *sorted((SRC / "backtest" / "kernels").glob("*.py")),
    SRC / "margin.py",
    SRC / "funding.py",
    SRC / "hedge" / "keeper.py",
]


def align_kernel_stamps() -> None:
    newest = max(f.stat().st_mtime_ns for f in FILES)
    for f in FILES:
        if f.stat().st_mtime_ns != newest:
            try:
                os.utime(f, ns=(newest, newest))
            except OSError:  # a read-only install: its files do not change
                return


align_kernel_stamps()
