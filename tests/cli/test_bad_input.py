"""Hostile input, class by class: one line naming the field, the value and the fix, exit 2, and
nothing written; then every numeric option of every command fed NaN, infinities, 1e308, -0.0
and subnormals (enumerated from the command tree, so a new option is covered by itself)."""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perphedge.cli.app import COMMANDS
from tests.factories import portfolio_file

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "perphedge" / "data" / "examples"


def one_line_error(r, *needles: str) -> None:
    assert r.code == 2, (r.code, r.err)
    lines = [line for line in r.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in r.err, r.err
    for needle in needles:
        assert needle in lines[0], lines[0]


def names(option: str, err: str) -> bool:
    """The message names the option, as --the-option or the_option."""
    return option in err or option.lstrip("-").replace("-", "_") in err


def written(home: Path) -> list[str]:
    return (
        sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
        if home.exists()
        else []
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def portfolio(
    tmp_path: Path, qty: float = 0.5, leverage: float = 5, extra: dict[str, object] | None = None
) -> str:
    btc = {"asset": "BTC", "quantity": qty, **(extra or {})}
    return str(portfolio_file(tmp_path, [btc], "p.toml", leverage=leverage, exchange="binance"))


@pytest.mark.parametrize(
    ("qty", "extra", "needle"),
    [
        (1e308, {}, "holdings[0].quantity=1e+308: give at most 1e+12 coins"),
        (0.5, {"price": 1e308}, "holdings[0].price=1e+308"),
        (0.5, {"proxy": "ETH", "beta": 1e308}, "holdings[0].beta=1e+308"),
    ],
)
def test_1e308_in_the_file_is_named(run_cli, tmp_path, home, qty, extra, needle):
    for command in (["plan"], ["hedge", "open"]):
        r = run_cli(
            *command,
            portfolio(tmp_path, qty=qty, extra=extra),
            "--paper"[: 7 * (command[0] == "hedge")] or "--json",
        )
        one_line_error(r, needle)
    assert written(home) == []


def test_leverage_below_1_is_refused(run_cli, tmp_path):
    one_line_error(
        run_cli("plan", portfolio(tmp_path, leverage=0.5)), "hedge.leverage=0.5", "at least 1"
    )


def test_negative_wallet_is_refused(run_cli):
    base = [
        "--side",
        "short",
        "--entry",
        "60000",
        "--leverage",
        "5",
        "--qty",
        "1",
        "--mmr",
        "0.004",
    ]
    r = run_cli("liquidation", *base, "--wallet", "-5")
    one_line_error(r, "--wallet=-5.0", "zero or more")


def test_a_non_utf8_csv_is_refused_by_line(run_cli, tmp_path, home):
    bad = tmp_path / "funding.csv"
    bad.write_bytes(
        b"exchange,symbol,ts_ms,rate,interval_hours,mark\nbinance,BTC\xff/USDT:USDT,1700000000000,0.0001,8,\n"
    )
    one_line_error(run_cli("data", "import", str(bad)), "line 2 is not UTF-8")
    assert written(home) == []


def test_a_store_path_that_is_a_folder_is_named(run_cli, tmp_path):
    (tmp_path / "store").mkdir()
    for args in (["list"], ["show", "binance", "BTC/USDT:USDT"]):
        one_line_error(
            run_cli("data", *args, "--store", str(tmp_path / "store")), "--store=", "is a folder"
        )


def test_perphedge_home_that_is_a_file_is_named(run_cli, tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("")
    monkeypatch.setenv("PERPHEDGE_HOME", str(afile))
    for args in (
        ["hedge", "history"],
        ["hedge", "open", portfolio(tmp_path), "--paper"],
        ["data", "list"],
    ):
        one_line_error(run_cli(*args), "PERPHEDGE_HOME=", "it is a file")
    assert afile.read_text() == ""


def test_an_unwritable_export_path_is_named(run_cli, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    one_line_error(run_cli("data", "export", str(blocker / "out.csv")), "out=", "cannot write it")
    assert not (tmp_path / "blocker.partial").exists()


@pytest.mark.parametrize("text", ["{broken", "[]", '{"wallets": 5}'])
def test_a_corrupt_paper_account_or_clock_is_named(run_cli, tmp_path, home, text):
    assert run_cli("hedge", "open", portfolio(tmp_path), "--paper").code == 0  # creates both
    for name in ("binance.json", "binance.clock.json"):
        path = home / "paper" / name
        good = path.read_text()
        path.write_text(text)
        r = run_cli("paper", "show")
        one_line_error(r, str(path), "paper reset")
        assert path.read_text() == text  # left as it was for a look, nothing half-written
        path.write_text(good)


# -- every numeric option of every command ----------------------------------------------------

BASE_ARGS = {
    "liquidation": [
        "--side",
        "short",
        "--entry",
        "60000",
        "--leverage",
        "5",
        "--qty",
        "0.5",
        "--mmr",
        "0.004",
    ],
    "beta": ["ETH", "--vs", "BTC"],
    "monitor": ["{portfolio}", "--paper", "--once"],
    "plan": ["{portfolio}"],
    "stress": ["{portfolio}"],
    "backtest": ["{portfolio}", "--from", "2024-11-01", "--to", "2024-11-08"],
    "sweep": ["{portfolio}", "--grid", "ratio=0.5", "--from", "2024-11-01", "--to", "2024-11-08"],
    "data show": ["binance", "BTC/USDT:USDT"],
    "hedge open": ["{portfolio}", "--paper"],
    "hedge rebalance": ["{portfolio}", "--paper"],
    "hedge close": ["{portfolio}", "--paper"],
    "hedge history": [],
    "hedge keep": ["{portfolio}", "--paper", "--once"],
    "paper advance": [],
    "paper reset": ["--yes"],
    "ui": ["--no-browser"],  # an int option only: no hostile float is a valid port
}
SLOW_WHEN_VALID = {"backtest", "sweep", "beta"}  # a valid value runs the whole computation
SERVES = {"ui"}  # a valid value (typer reads "-0.0" as port 0) starts a server until Ctrl-C


def numeric_options() -> Iterator[tuple[str, str, str]]:
    """(command path, option, "float" or "int") for every numeric option of every command."""
    full = typer.Typer()
    for module in sorted({m for m, _ in COMMANDS.values()}):
        importlib.import_module(f"perphedge.cli.{module}").register(full)
    stack = [([], typer.main.get_command(full))]
    while stack:
        path, command = stack.pop()
        if hasattr(command, "commands"):
            stack += [([*path, name], sub) for name, sub in command.commands.items()]
            continue
        for param in command.params:
            kind = getattr(param.type_descriptor, "annotation", None)
            if kind in (float, int) and param.opts and param.opts[0].startswith("--"):
                yield " ".join(path), param.opts[0], kind.__name__


OPTIONS = sorted(numeric_options())


def test_every_command_with_numeric_options_has_base_arguments():
    assert {command for command, _, _ in OPTIONS} <= set(BASE_ARGS)
    assert len(OPTIONS) >= 40  # the enumeration found the command tree


def invoke(run_cli, tmp_path, command: str, option: str, value: str):
    args = [a.replace("{portfolio}", str(EXAMPLES / "portfolio.toml")) for a in BASE_ARGS[command]]
    return run_cli(*command.split(), *args, f"{option}={value}")


NOT_FINITE = ["nan", "inf", "-inf"]


@pytest.mark.parametrize(("command", "option", "kind"), OPTIONS)
def test_nan_and_infinities_are_refused_naming_the_option(
    run_cli, tmp_path, home, command, option, kind
):
    if command == "paper advance":
        assert run_cli("hedge", "open", str(EXAMPLES / "portfolio.toml"), "--paper").code == 0
    before = written(home)
    for value in NOT_FINITE:
        r = invoke(run_cli, tmp_path, command, option, value)
        one_line_error(r)
        assert names(option, r.err), (option, r.err)
    assert written(home) == before


HOSTILE = st.sampled_from(
    [math.nan, math.inf, -math.inf, 1e308, -1e308, -0.0, 0.0, 5e-324, 2.2e-308, -1.0]
)


@pytest.mark.parametrize("command", sorted({c for c, _, _ in OPTIONS} - SLOW_WHEN_VALID - SERVES))
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_hostile_floats_never_crash(run_cli, tmp_path, home, command, data):
    """Whatever float reaches whichever numeric option: a clean exit (never 1, no traceback);
    a refusal is one line naming the option."""
    option, kind = data.draw(st.sampled_from([(o, k) for c, o, k in OPTIONS if c == command]))
    value = data.draw(HOSTILE)
    r = invoke(run_cli, tmp_path, command, option, repr(value) if kind == "float" else str(value))
    assert r.code in (0, 2, 3, 4), (command, option, value, r.code, r.err[-2000:])
    assert "Traceback" not in r.err
    if r.code == 2 and "error:" in r.err:
        assert len([line for line in r.err.splitlines() if line.startswith("error:")]) == 1
