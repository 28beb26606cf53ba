"""Read the charts back out of a report file (perphedge.report.page): traces with plain lists."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

import numpy as np

DTYPES = {"f4": np.float32, "f8": np.float64, "i4": np.int32, "i8": np.int64}


def _array(value: Any) -> list[float]:
    if isinstance(value, dict) and "bdata" in value:
        raw = base64.b64decode(value["bdata"])
        return [float(v) for v in np.frombuffer(raw, dtype=DTYPES[value["dtype"]])]
    return list(value)


def _start_ms(x0: str) -> int:
    return int(datetime.fromisoformat(x0).replace(tzinfo=UTC).timestamp() * 1000)


def figures(page: str) -> list[dict[str, Any]]:
    """Every figure of the page, each trace with `y` decoded and `t_ms` (its times) added."""
    out = []
    for block in re.findall(
        r"<script type='application/json' id='chart-\d+-data'>(.*?)</script>", page, re.S
    ):
        figure = json.loads(block)
        for trace in figure["data"]:
            trace["y"] = _array(trace["y"])
            if "x0" in trace:
                first = _start_ms(trace["x0"])
                trace["t_ms"] = [first + i * trace["dx"] for i in range(len(trace["y"]))]
        out.append(figure)
    return out
