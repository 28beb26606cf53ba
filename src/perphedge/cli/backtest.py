"""`perphedge backtest`: the portfolio unhedged, hedged and under chosen policies, on history.

Shell: reads the portfolio file and the market store, calls the pure backtest core, renders.
`prepare` and `make_spec` are shared with `perphedge sweep`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from perphedge.backtest import BacktestSpec, MarketArrays, Policy, StaticRatio, run_backtest
from perphedge.backtest.choices import make_policy, param_names, parse_params, policy_class
from perphedge.backtest.data import AlignedMarket, fmt_ms
from perphedge.backtest.from_portfolio import (
    Layout,
    costs_for,
    hedge_legs,
    layout,
    start_margin_usd,
)
from perphedge.cli.options import choice
from perphedge.config import PortfolioConfig, load_portfolio
from perphedge.errors import InputError, require_finite, require_non_negative, require_positive
from perphedge.instruments import ContractKind, MarginTier, Perpetual, TierTable
from perphedge.report.backtest_view import (
    Run,
    chart_runs,
    liquidation_lines,
    metrics_table,
    rich_table,
    run_json,
    unhedged_summary,
)
from perphedge.report.html import render_html, write_html
from perphedge.report.render import console, err_console, print_json
from perphedge.store.backtest_inputs import load_aligned
from perphedge.store.market import MarketStore
from perphedge.venues import contract_specs

ASSUMED_MMR = 0.01
MAX_GAP_LINES = 5

TOP_UP_RESERVE = 1.0  # --top-up without --cash: reserve = this x the initial margin


@dataclass(frozen=True)
class Prepared:
    """A portfolio's market data on the backtest grid, with its legs' instruments."""

    config: PortfolioConfig
    kind: ContractKind
    plan: Layout
    instruments: dict[str, Perpetual]
    aligned: AlignedMarket
    market: MarketArrays
    notes: tuple[str, ...]

    @property
    def bar_ms(self) -> int:
        return int(np.median(np.diff(self.market.times_ms)))


def parse_date_ms(field: str, text: str) -> int:
    """'2024-01-31' or '2024-01-31T08:00' (UTC unless an offset is given) -> epoch ms."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(field, text, "give a date as YYYY-MM-DD (UTC)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _instrument(exchange: str, asset: str, kind: ContractKind) -> tuple[Perpetual, str | None]:
    """The bundled contract spec, else a generic one with a flat maintenance rate (noted)."""
    found = contract_specs.find(exchange, asset, kind)
    if found is not None:
        assumed = "assumed" in found.tiers.source
        note = f"{exchange} {found.symbol} tiers: {found.tiers.source}" if assumed else None
        return found, note
    inverse = kind is ContractKind.INVERSE
    perp = Perpetual(
        symbol=f"{asset}/USD:{asset}" if inverse else f"{asset}/USDT:USDT",
        base=asset,
        quote="USD" if inverse else "USDT",
        settle=asset if inverse else "USDT",
        kind=kind,
        contract_size=(100.0 if asset == "BTC" else 10.0) if inverse else 1.0,
        tiers=TierTable((MarginTier(0.0, math.inf, 125.0, ASSUMED_MMR, 0.0),), source="assumed"),
        exchange=exchange,
    )
    size = f", {perp.contract_size:g} USD contracts" if inverse else ""
    return perp, (
        f"{exchange} {perp.symbol}: no bundled contract spec; flat {ASSUMED_MMR:.0%} maintenance "
        f"rate, Binance regular fees{size} assumed"
    )


def prepare(
    portfolio: Path,
    since_ms: int,
    until_ms: int,
    contract: str | None,
    strict: bool,
    store_path: Path | None,
) -> Prepared:
    """Load the portfolio and its market data on the backtest grid."""
    config = load_portfolio(portfolio)
    kind = choice(ContractKind, "--contract", contract) if contract else config.hedge.kind
    plan = layout(config.portfolio, config.hedge.ratio)
    if not plan.legs:
        raise InputError("ratio", 0, "every holding has hedge ratio 0: nothing to backtest")
    exchange = config.hedge.exchange.lower()
    notes: list[str] = []
    if config.hedge.margin_mode != "isolated":
        notes.append(f"margin_mode {config.hedge.margin_mode}: modelled as isolated per leg")
    instruments: dict[str, Perpetual] = {}
    for asset in plan.hedge_assets:
        instruments[asset], note = _instrument(exchange, asset, kind)
        notes += [note] if note else []
    aligned = load_aligned(
        MarketStore(store_path),
        exchange,
        plan.assets,
        [instruments[a].symbol for a in plan.hedge_assets],
        since_ms,
        until_ms,
        strict=strict,
    )
    market = MarketArrays.from_dense_funding(
        aligned.times_ms,
        aligned.spot,
        aligned.perp,
        aligned.mark,
        aligned.funding_rate,
        aligned.funding_event,
        aligned.spot_names,
        aligned.instrument_names,
        mark_high=aligned.mark_high,
        mark_low=aligned.mark_low,
    )
    return Prepared(config, kind, plan, instruments, aligned, market, tuple(notes))


@dataclass(frozen=True)
class RunSettings:
    """Knobs shared by every run of one command."""

    leverage: float
    cash_usd: float | None  # None: the initial margin of the hedge (see from_portfolio)
    top_up: bool
    slippage_bp: float


def make_spec(
    prep: Prepared, policy: Policy, settings: RunSettings, cash_usd: float
) -> BacktestSpec:
    legs = hedge_legs(prep.plan, prep.instruments)
    return BacktestSpec(
        legs=legs,
        policy=policy,
        initial_cash_usd=cash_usd,
        leverage=settings.leverage,
        costs=costs_for(list(prep.instruments.values()), settings.slippage_bp),
        auto_top_up=settings.top_up,
    )


def start_cash(prep: Prepared, ratio: float, leverage: float) -> float:
    """Cash that funds the hedge's initial margin on the first bar."""
    legs = hedge_legs(prep.plan, prep.instruments)
    return start_margin_usd(legs, prep.market.spot[0], ratio, leverage)


def _policies(names: list[str], params: dict[str, str], ratio: float, bar_ms: int) -> list[Policy]:
    taken = {p for name in names for p in param_names(policy_class(name))}
    unknown = sorted(set(params) - taken)
    if unknown:
        raise InputError(
            f"--param {unknown[0]}",
            params[unknown[0]],
            f"no chosen policy takes it ({', '.join(sorted(taken)) or 'give --policy first'})",
        )
    return [
        make_policy(
            name,
            {k: v for k, v in params.items() if k in param_names(policy_class(name))},
            ratio,
            bar_ms,
        )
        for name in names
    ]


def _say(text: str) -> None:
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


def print_notes(prep: Prepared) -> None:
    """Coverage notes and data gaps, on stderr (stdout stays clean for --json)."""
    for note in (*prep.notes, *prep.aligned.notes):
        _say(f"note: {note}")
    gaps = prep.aligned.gaps
    for gap in gaps[:MAX_GAP_LINES]:
        _say(f"warning: gap: {gap.describe()} (last value carried over; --strict refuses)")
    if len(gaps) > MAX_GAP_LINES:
        _say(f"warning: {len(gaps) - MAX_GAP_LINES} more gaps")


def settings_from(
    prep: Prepared, leverage: float | None, cash: float | None, top_up: bool, slippage_bp: float
) -> RunSettings:
    lev = (
        require_positive("--leverage", leverage)
        if leverage is not None
        else prep.config.hedge.leverage
    )
    return RunSettings(
        leverage=lev,
        cash_usd=None if cash is None else require_non_negative("--cash", cash),
        top_up=top_up,
        slippage_bp=require_non_negative(
            "--slippage-bp", require_finite("--slippage-bp", slippage_bp)
        ),
    )


def _runs(
    prep: Prepared, policies: list[Policy], names: list[str], settings: RunSettings
) -> list[Run]:
    ratio = prep.config.hedge.ratio
    cash = settings.cash_usd
    if cash is None:
        cash = start_cash(prep, max([ratio, *(p.params()[0] for p in policies)]), settings.leverage)
        if settings.top_up:
            cash *= 1 + TOP_UP_RESERVE  # a reserve to top up from, beside the initial margin
    runs: list[Run] = []
    for name, policy in [("hedged", StaticRatio(ratio)), *zip(names, policies, strict=True)]:
        result = run_backtest(make_spec(prep, policy, settings, cash), prep.market)
        params = {f: float(getattr(policy, f)) for f in param_names(type(policy))}
        runs.append(Run(name, params, result.summary(), result))
    base = runs[0].result
    return [Run("unhedged", {}, unhedged_summary(base), base), *runs]


def _title(prep: Prepared, settings: RunSettings) -> str:
    t = prep.market.times_ms
    return (
        f"Backtest {prep.config.name}: {prep.config.hedge.exchange} {prep.kind.value}, "
        f"{settings.leverage:g}x, {fmt_ms(int(t[0]))} to {fmt_ms(int(t[-1]))} "
        f"({t.size} bars of {prep.bar_ms / 3_600_000:g} h)"
    )


def _json(prep: Prepared, settings: RunSettings, runs: list[Run]) -> dict[str, object]:
    t = prep.market.times_ms
    return {
        "portfolio": prep.config.name,
        "exchange": prep.config.hedge.exchange,
        "contract": prep.kind.value,
        "leverage": settings.leverage,
        "from": fmt_ms(int(t[0])),
        "to": fmt_ms(int(t[-1])),
        "bars": int(t.size),
        "bar_hours": prep.bar_ms / 3_600_000,
        "initial_cash_usd": runs[1].result.spec.initial_cash_usd,
        "notes": [*prep.notes, *prep.aligned.notes],
        "gaps": [g.describe() for g in prep.aligned.gaps],
        "runs": [run_json(r) for r in runs],
    }


def backtest(
    portfolio: Annotated[
        Path, typer.Argument(help="Portfolio file (TOML), as for `perphedge plan`.")
    ],
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")],
    date_to: Annotated[str, typer.Option("--to", help="Last instant, YYYY-MM-DD (00:00 UTC).")],
    policy: Annotated[
        list[str] | None,
        typer.Option(help="static|band|schedule|funding|vol (repeatable), beside 'hedged'."),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="Policy parameter k=v (repeatable).")
    ] = None,
    leverage: Annotated[
        float | None, typer.Option(help="Default: the file's hedge leverage.")
    ] = None,
    contract: Annotated[
        str | None, typer.Option(help="linear|inverse (default: the file's).")
    ] = None,
    cash: Annotated[
        float | None, typer.Option(help="Starting cash USD (default: the hedge's initial margin).")
    ] = None,
    top_up: Annotated[
        bool,
        typer.Option(
            "--top-up",
            help="Top margin up from cash before a liquidation (without --cash: a reserve "
            "equal to the initial margin is added).",
        ),
    ] = False,
    slippage_bp: Annotated[float, typer.Option(help="Slippage per trade, basis points.")] = 1.0,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse data with gaps.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML page to this .html file.")
    ] = None,
    store: Annotated[
        Path | None, typer.Option(help="Market store file (default: the data directory's).")
    ] = None,
) -> None:
    """Unhedged, hedged and policy runs of a portfolio over stored history."""
    since, until = parse_date_ms("--from", date_from), parse_date_ms("--to", date_to)
    if since > until:
        raise InputError("--from", date_from, f"must not be after --to {date_to}")
    if report is not None and report.suffix.lower() not in {".html", ".htm"}:
        raise InputError("--report", str(report), "give a file name ending in .html")
    prep = prepare(portfolio, since, until, contract, strict, store)
    settings = settings_from(prep, leverage, cash, top_up, slippage_bp)
    names = [n.strip().lower() for n in policy or []]
    policies = _policies(names, parse_params(param or []), prep.config.hedge.ratio, prep.bar_ms)
    runs = _runs(prep, policies, names, settings)
    print_notes(prep)
    title = _title(prep, settings)
    if report is not None:
        gaps = (f"gap: {g.describe()}" for g in prep.aligned.gaps)
        notes = [*liquidation_lines(runs), *prep.notes, *prep.aligned.notes, *gaps]
        page = render_html(
            title, prep.market.times_ms, chart_runs(runs), metrics_table(runs), notes
        )
        write_html(report, page)
    if as_json:
        print_json(_json(prep, settings, runs))
    else:
        console.print(rich_table(title, runs))
        for line in liquidation_lines(runs):
            console.print(line, markup=False, highlight=False)
        if report is not None:
            console.print(f"report written to {report}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)
