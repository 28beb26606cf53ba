"""Fast start: --help, an offline plan and liquidation import none of ccxt, numba or plotly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from perphedge.cli.app import COMMANDS, load_command

EXAMPLE = Path(__file__).resolve().parents[2] / "src/perphedge/data/examples/portfolio.toml"
HEAVY = ("ccxt", "numba", "plotly")
PROBE = """
import json, sys
from perphedge.cli.app import main
try:
    main(json.loads(sys.argv[1]))
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy})))
"""


def imported(args: list[str], tmp_path: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY)), json.dumps(args)],
        capture_output=True,
        text=True,
        check=True,
        env={"PERPHEDGE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["plan", str(EXAMPLE)],
        ["plan", str(EXAMPLE), "--json"],
        ["liquidation", "--side", "short", "--qty", "1", "--entry", "60000", "--leverage", "5"],
    ],
)
def test_light_commands_import_no_heavy_library(args, tmp_path):
    assert imported(args, tmp_path) == []


def test_a_command_needing_ccxt_still_gets_it(tmp_path):
    assert "ccxt" in imported(["exchanges", "--json"], tmp_path)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_listed_help_is_the_command_s_own(name):
    command = load_command(name)
    assert command.name == name
    own = (command.help or "").strip().splitlines()[0]
    assert own == COMMANDS[name][1]
