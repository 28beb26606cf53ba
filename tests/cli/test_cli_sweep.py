"""`perphedge sweep`: the grid, the ranking, parallel runs and bad input."""

from __future__ import annotations

import itertools
import json
from html import escape

import pytest

from perphedge.report.explain import EXPLAIN
from tests.factories import portfolio_file

HEDGE = {"ratio": 1.0, "leverage": 2, "exchange": "binance"}

JAN = ["--from", "2024-01-01", "--to", "2024-02-01"]
GRID = "policy=static,band;ratio=0.5,1;band=0.01;leverage=2,5"


@pytest.fixture
def btc(tmp_path):
    return str(portfolio_file(tmp_path, [{"asset": "BTC", "quantity": 1}], "btc.toml", **HEDGE))


def _ordered(values, descending):
    """Sorted, where values equal to 12 significant digits may come in either order."""
    pairs = itertools.pairwise(values)
    ok = [(a >= b if descending else a <= b) or a == pytest.approx(b, rel=1e-12) for a, b in pairs]
    return all(ok)


def _sweep(run_cli, btc, *extra):
    r = run_cli("sweep", btc, *JAN, "--grid", GRID, "--json", *extra)
    assert r.code == 0, r.err
    return json.loads(r.out)["runs"]


def test_grid_runs_ranked_by_total_return(run_cli, btc):
    runs = _sweep(run_cli, btc, "--jobs", "1", "--rank", "total_return")
    assert len(runs) == 8  # 2 policies x 2 ratios x 2 leverages (static drops band)
    assert [r["rank"] for r in runs] == list(range(1, 9))
    returns = [r["total_return"] for r in runs]
    assert _ordered(returns, descending=True)
    combos = {(r["policy"], r["params"]["ratio"], r["leverage"]) for r in runs}
    assert len(combos) == 8
    assert all(r["params"].get("band") == 0.01 for r in runs if r["policy"] == "band")
    for r in runs:
        for key in ("max_drawdown", "volatility", "funding_pnl", "fees", "liquidations",
                    "hedge_effectiveness"):  # fmt: skip
            assert key in r


def test_a_grid_point_equals_the_single_backtest(run_cli, btc):
    # every grid run starts with the most demanding margin: ratio 1 at 2x -> the same cash as
    # `backtest` at the file's 2x, so the static ratio-1 2x run must match its "hedged" run
    runs = _sweep(run_cli, btc, "--jobs", "1")
    point = next(
        r for r in runs if (r["policy"], r["params"]["ratio"], r["leverage"]) == ("static", 1.0, 2)
    )
    single = run_cli("backtest", btc, *JAN, "--json")
    hedged = json.loads(single.out)["runs"][1]
    unhedged = json.loads(single.out)["runs"][0]
    sweep = json.loads(run_cli("sweep", btc, *JAN, "--grid", GRID, "--jobs", "1", "--json").out)
    assert sweep["unhedged"]["total_return"] == pytest.approx(unhedged["total_return"], rel=1e-12)
    for key in ("total_return", "funding_pnl", "fees", "max_drawdown", "final_equity"):
        assert point[key] == pytest.approx(hedged[key], rel=1e-12)


def test_parallel_and_serial_agree(run_cli, btc):
    serial = _sweep(run_cli, btc, "--jobs", "1")
    parallel = _sweep(run_cli, btc, "--jobs", "2")
    assert parallel == serial


@pytest.mark.parametrize(("metric", "descending"), [("max_drawdown", True), ("fees", False)])
def test_rank_direction(run_cli, btc, metric, descending):
    runs = _sweep(run_cli, btc, "--jobs", "1", "--rank", metric)
    assert _ordered([r[metric] for r in runs], descending)


def test_table_output(run_cli, btc):
    r = run_cli("sweep", btc, *JAN, "--grid", "policy=static;leverage=2,3", "--jobs", "1")
    assert r.code == 0, r.err
    assert "2 runs" in r.out and "ranked by hedge_effectiveness" in r.out
    assert "2x" in r.out and "3x" in r.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "policy=static", "--rank", "luck"], "--rank='luck'"),
        (["--grid", "colour=red"], "--grid='colour'"),
        (["--grid", "policy=static,yolo"], "--policy='yolo'"),
        (["--grid", "policy=band;band=2"], "band=2.0 is invalid"),
        (["--grid", "leverage=two"], "--grid leverage='two'"),
        (["--grid", "leverage=0"], "leverage=0.0"),
        (["--grid", "policy=static", "--jobs", "-1"], "--jobs=-1"),
        (["--grid", "reserve=-5"], "reserve=-5.0"),
        (["--grid", "reserve=lots"], "--grid reserve='lots'"),
        (["--grid", "leverage=2", "--executor", "spark"], "--executor='spark'"),
        (["--grid", "leverage=2", "--address", "auto"], "--address='auto'"),
        (["--grid", "leverage=2", "--heatmap", "h.html", "--x", "ratio"], "--heatmap='h.html'"),
        (["--grid", "leverage=2", "--x", "ratio"], "--x/--y='ratio'"),
        (["--grid", "leverage=2", "--csv", "runs.txt"], "--csv='runs.txt'"),
    ],
)
def test_bad_input_is_one_line_exit_2(run_cli, btc, args, message):
    r = run_cli("sweep", btc, *JAN, *args)
    assert r.code == 2, r.out
    assert r.err.startswith("error: ") and r.err.strip().count("\n") == 0
    assert message in r.err


def test_contract_kinds_run_over_the_span_both_cover(run_cli, btc):
    # the coin-margined sample starts 2023-01-01; the linear runs are cut to the same span
    r = run_cli("sweep", btc, "--from", "2022-12-01", "--to", "2023-02-01", "--grid",
                "contract=linear,inverse;leverage=1", "--jobs", "1", "--json")  # fmt: skip
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert "2023-01-01 08:00 to 2023-02-01 00:00" in data["title"]
    assert sorted(run["contract"] for run in data["runs"]) == ["inverse", "linear"]
    table = run_cli("sweep", btc, "--from", "2023-01-01", "--to", "2023-01-15", "--grid",
                    "contract=linear,inverse", "--jobs", "1")  # fmt: skip
    assert table.code == 0, table.err
    header = next(line for line in table.out.splitlines() if line.startswith("┃"))
    assert header.count("┃") == 12  # 11 columns: "contract" is added when kinds are mixed


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_error_inside_a_run_is_one_line_in_parallel_too(run_cli, tmp_path, jobs):
    # 10 BTC (~420,000 USD) sit in Binance's 50k-600k bracket: at most 100x there
    path = portfolio_file(tmp_path, [{"asset": "BTC", "quantity": 10}], "big.toml", **HEDGE)
    r = run_cli("sweep", str(path), *JAN, "--grid", "leverage=2,120", "--jobs", jobs)
    assert r.code == 2
    assert r.err == "error: leverage=120.0 is invalid: leg 0 allows at most 100x at its notional\n"


def test_the_default_ranking_favours_protection_and_the_help_says_why(run_cli, btc):
    runs = _sweep(run_cli, btc, "--jobs", "1")
    assert _ordered([r["hedge_effectiveness"] for r in runs], descending=True)
    assert all(r["hedge_effectiveness"] > 0.5 for r in runs[:2])
    assert all("drawdown_cut_per_cost" in r for r in runs)
    help_text = run_cli("sweep", "--help").out
    assert "insurance" in help_text and "hedge_effectiveness" in help_text


def test_reserves_csv_and_heatmap(run_cli, btc, tmp_path):
    csv_path, page = tmp_path / "runs.csv", tmp_path / "heat.html"
    grid = "policy=band;ratio=0.5,1;band=0.01,0.05;reserve=0,2000"
    r = run_cli("sweep", btc, *JAN, "--grid", grid, "--jobs", "2", "--json", "--csv",
                str(csv_path), "--heatmap", str(page), "--x", "band", "--y", "ratio")  # fmt: skip
    assert r.code == 0, r.err
    runs = json.loads(r.out)["runs"]
    assert len(runs) == 8 and {run["reserve_usd"] for run in runs} == {0.0, 2000.0}
    # a reserve is cash beside the hedge: the same hedge, more starting equity
    for run in runs:
        twin = next(o for o in runs if o["params"] == run["params"] and o is not run)
        assert run["trades"] == twin["trades"] and run["fees"] == pytest.approx(twin["fees"])
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("rank,policy,ratio,band,leverage,reserve_usd,contract,")
    assert len(lines) == 9 and lines[1].startswith("1,band,")
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "hedge_effectiveness" in html
    assert '"type":"heatmap"' in html.replace(" ", "")
    # the page says what went in and how to read it
    assert "<h1>Sweep btc.toml: 8 runs, 2024-01-01" in html
    for words in ("Portfolio", "Period", "Parameter grid", "Metric", "higher is better"):
        assert words in html
    assert grid in html
    assert escape(EXPLAIN["hedge_effectiveness"]) in html and "How to read the heatmap" in html
    assert "across: band; up: ratio" in html and "The 8 best runs" in html


def test_heatmap_axis_must_be_a_grid_parameter(run_cli, btc, tmp_path):
    r = run_cli("sweep", btc, *JAN, "--grid", "policy=band;band=0.01,0.05", "--jobs", "1",
                "--heatmap", str(tmp_path / "h.html"), "--x", "band", "--y", "colour")  # fmt: skip
    assert r.code == 2 and "--y='colour'" in r.err
    assert not (tmp_path / "h.html").exists()
