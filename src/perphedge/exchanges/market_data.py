"""Public market data from a venue through ccxt, as perphedge domain values.

    md = CcxtMarketData("binance")                  # USDⓈ-M; market="inverse" for COIN-M
    md.instruments()                                -> list[Perpetual]   (all active swaps)
    md.instrument("BTC/USDT:USDT")                  -> Perpetual with tiers and funding interval
    md.tiers("BTC/USDT:USDT")                       -> TierTable
    md.prices("BTC/USDT:USDT")                      -> PriceSnapshot (mark, index, last)
    md.mark_price(symbol) / md.funding_rate(symbol) -> ports.PriceQuote / ports.FundingRateQuote
    md.funding_history(symbol, since_ms, until_ms)  -> FundingPoints (paginated)
    md.ohlcv(symbol, kind, timeframe, since_ms, until_ms) -> Candles (kind spot|perp|mark)

Pagination walks [since, until) in windows that hold at most one page (page size x interval),
so it works whether the venue answers oldest-first (Binance) or newest-first (Bybit, OKX); a full
page halves the window and asks again, so a symbol with a shorter funding interval than assumed
loses nothing. A venue whose funding history takes only a page number (MEXC) is walked page by
page, newest first, until a page reaches back before `since` (`walk_pages`).
`progress(ts_ms)` is called after every page with the window end reached.

Every ccxt call goes through `perphedge.exchanges.errors.call`: errors are translated once and
only temporary ones are retried with bounded backoff; ccxt's own rate limiter stays on (off
only for a local test exchange given as `base_url`).
The class is venue-generic: a new venue needs a registry entry (perphedge.venues.registry) and,
if its page sizes differ from the defaults, a line in PAGE_LIMITS.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from perphedge.errors import CapabilityError, DataError, InputError, PerphedgeError
from perphedge.exchanges import parse
from perphedge.exchanges.client import MarketType, make_exchange
from perphedge.exchanges.errors import DEFAULT_ATTEMPTS, call, needs_credentials
from perphedge.exchanges.parse import PriceSnapshot
from perphedge.instruments import MarginTier, Perpetual, TierTable
from perphedge.ports import Candles, FundingPoints, FundingRateQuote, PriceQuote
from perphedge.venues.contract_specs import assumed_tiers
from perphedge.venues.registry import Venue
from perphedge.venues.registry import venue as find_venue
from perphedge.venues.tier_tables import for_symbol

T = TypeVar("T")
HOUR_MS = 3_600_000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class PageLimits:
    """Rows per request the venue allows for funding history and candles."""

    funding: int
    ohlcv: int
    until_param: str = "until"  # how the venue's ccxt method takes the window end
    # set when the venue's funding history takes a page number instead of a time window
    # (MEXC: newest first, page_num 1, 2, ...; ccxt passes it through)
    funding_page_param: str = ""


# Documented maxima, never above what ccxt 4.5 sends (it caps Binance futures klines at 1000
# although the venue allows 1500): Binance fundingRate 1000, klines 1000; Bybit v5 funding 200,
# kline 1000; OKX funding-rate-history 100 (takes the window end as `after`), candles 100;
# MEXC contract funding_rate/history 100 per page, by page number only (no time filter).
PAGE_LIMITS: dict[str, PageLimits] = {
    "binanceusdm": PageLimits(1000, 1000),
    "binancecoinm": PageLimits(1000, 1000),
    "binance": PageLimits(1000, 1000),
    "bybit": PageLimits(200, 1000),
    "okx": PageLimits(100, 100, until_param="after"),
    "mexc": PageLimits(100, 200, funding_page_param="page_num"),
}
DEFAULT_PAGE_LIMITS = PageLimits(100, 200)
KINDS = ("spot", "perp", "mark")


class CcxtMarketData:
    """Read-only public market data of one venue (see the module docstring)."""

    def __init__(
        self,
        venue_name: str,
        market: MarketType = "linear",
        *,
        exchange: Any = None,
        spot_exchange: Any = None,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self.venue: Venue = find_venue(venue_name)
        self.market_type: MarketType = market
        self._base_url = base_url
        self._ex = exchange or self._make(market)
        self._spot_ex = spot_exchange
        self._sleep = sleep
        self._attempts = attempts
        self._intervals: dict[str, float] = {}

    # ------------------------------------------------------------------ plumbing
    def _call(self, action: str, fn: Callable[[], T]) -> T:
        return call(fn, self.venue.name, action, attempts=self._attempts, sleep=self._sleep)

    def _limits(self, exchange: Any) -> PageLimits:
        return PAGE_LIMITS.get(str(exchange.id), DEFAULT_PAGE_LIMITS)

    def _markets(self, exchange: Any) -> dict[str, Any]:
        markets = self._call("load markets", exchange.load_markets)
        return dict(markets)

    def _make(self, market: MarketType) -> Any:
        exchange = make_exchange(self.venue.name, market, base_url=self._base_url)
        if self._base_url:  # a local test exchange: no client-side rate limiting
            exchange.enableRateLimit = False
        return exchange

    def _spot(self) -> Any:
        if self._spot_ex is None:
            self._spot_ex = self._make("spot")
        return self._spot_ex

    def _swap_market(self, symbol: str) -> dict[str, Any]:
        markets = self._markets(self._ex)
        market = markets.get(symbol)
        if market is not None and market.get("swap"):
            return dict(market)
        swaps = sorted(s for s, m in markets.items() if m.get("swap"))
        similar = [s for s in swaps if s.split("/")[0] == symbol.split("/", maxsplit=1)[0]][:4]
        if market is not None:
            raise CapabilityError(
                f"{symbol} on {self.venue.name} is not a perpetual; use "
                f"{', '.join(similar) or 'a perpetual symbol such as BTC/USDT:USDT'}"
            )
        hint = ", ".join(similar) if similar else ", ".join(swaps[:5])
        raise InputError("symbol", symbol, f"{self.venue.name} perpetuals include {hint}")

    # ------------------------------------------------------------------ specs
    def instruments(self) -> list[Perpetual]:
        """Every active perpetual of this client, without fetching tiers (one request).

        Tiers are perphedge's bundled table where one ships, else a one-bracket placeholder
        whose `source` says so; `instrument(symbol)` fetches the venue's own.
        """
        out = []
        for _symbol, market in sorted(self._markets(self._ex).items()):
            if market.get("swap") and market.get("active") is not False:
                out.append(self._perpetual(market, tiers=None))
        return out

    def instrument(self, symbol: str) -> Perpetual:
        """The perpetual `symbol` with its tier table and funding interval.

        A venue that publishes no tiers through ccxt (WEEX) gets the bundled table, else the
        assumed flat rate of `contract_specs.assumed_tiers` (its source says "assumed").
        """
        market = self._swap_market(symbol)
        try:
            tiers = self.tiers(symbol)
        except CapabilityError:
            tiers = for_symbol(self.venue.name, str(market.get("id"))) or assumed_tiers()
        return self._perpetual(market, tiers=tiers)

    def _perpetual(self, market: dict[str, Any], tiers: TierTable | None) -> Perpetual:
        if tiers is None:
            tiers = for_symbol(self.venue.name, str(market.get("id"))) or _placeholder_tiers()
        symbol = str(market["symbol"])
        listed = parse.market_funding_interval_hours(market)
        if listed is not None:
            self._intervals.setdefault(symbol, listed)
        return parse.perpetual(
            market,
            self.venue.name,
            tiers=tiers,
            funding_interval_hours=self._intervals.get(
                symbol, self.venue.default_funding_interval_hours
            ),
            precision_mode=int(getattr(self._ex, "precisionMode", parse.TICK_SIZE_MODE)),
        )

    def tiers(self, symbol: str) -> TierTable:
        """Maintenance-margin brackets; the bundled table when the venue wants an API key."""
        market = self._swap_market(symbol)
        source = f"{self.venue.name} via ccxt fetchMarketLeverageTiers"
        try:
            raw = self._call(
                "fetch leverage tiers", lambda: self._ex.fetch_market_leverage_tiers(symbol)
            )
        except PerphedgeError as e:
            bundled = for_symbol(self.venue.name, str(market.get("id")))
            if bundled is None or not needs_credentials(e):
                raise
            return bundled
        return parse.tier_table(raw, source)

    # ------------------------------------------------------------------ prices and funding
    def _rate_dict(self, symbol: str) -> dict[str, Any]:
        self._swap_market(symbol)
        return dict(self._call("fetch funding rate", lambda: self._ex.fetch_funding_rate(symbol)))

    def prices(self, symbol: str) -> PriceSnapshot:
        """Mark, index and last price of the perpetual `symbol`."""
        rate = self._rate_dict(symbol)
        ticker = self._call("fetch ticker", lambda: self._ex.fetch_ticker(symbol))
        return parse.price_snapshot(symbol, rate, ticker)

    def mark_price(self, symbol: str) -> PriceQuote:
        """The latest mark price (ports.MarketData): from the funding-rate answer, else from the
        venue's own mark-price call (OKX sends the mark only there)."""
        rate = self._rate_dict(symbol)
        try:
            snap: PriceSnapshot | None = parse.price_snapshot(symbol, rate, None)
        except DataError:
            snap = None
        if (snap is None or snap.mark is None) and self._ex.has.get("fetchMarkPrice"):
            ticker = self._call("fetch mark price", lambda: self._ex.fetch_mark_price(symbol))
            snap = parse.price_snapshot(symbol, rate, ticker)
        if snap is None or snap.mark is None:
            raise DataError(f"{self.venue.name} sent no mark price for {symbol}")
        return PriceQuote(symbol, snap.mark, snap.ts_ms)

    def funding_rate(self, symbol: str) -> FundingRateQuote:
        """Current rate, next settlement and the symbol's own interval (ports.MarketData)."""
        rate = self._rate_dict(symbol)
        hours = parse.interval_hours(rate.get("interval")) or self.funding_interval_hours(symbol)
        return parse.funding_quote(rate, hours)

    def funding_interval_hours(self, symbol: str) -> float:
        """The symbol's funding interval: the venue's answer, else the venue's default."""
        if symbol in self._intervals:
            return self._intervals[symbol]
        hours = None
        if self._ex.has.get("fetchFundingInterval"):
            try:
                answer = self._call(
                    "fetch funding interval", lambda: self._ex.fetch_funding_interval(symbol)
                )
                hours = parse.interval_hours((answer or {}).get("interval"))
            except PerphedgeError:
                hours = None
        self._intervals[symbol] = hours or self.venue.default_funding_interval_hours
        return self._intervals[symbol]

    def funding_history(
        self,
        symbol: str,
        since_ms: int,
        until_ms: int,
        progress: Progress | None = None,
    ) -> FundingPoints:
        """Funding settlements of `symbol` in [since_ms, until_ms), oldest first."""
        self._swap_market(symbol)
        limits = self._limits(self._ex)
        # one settlement less than a page, so that a full answer means "window too wide"
        step = int((limits.funding - 1) * self.funding_interval_hours(symbol) * HOUR_MS)

        def fetch(start: int | None, params: dict[str, int]) -> list[Any]:
            return list(
                self._call(
                    "fetch funding history",
                    lambda: self._ex.fetch_funding_rate_history(
                        symbol, start, limits.funding, params
                    ),
                )
            )

        if limits.funding_page_param:
            rows = walk_pages(
                lambda number: fetch(None, {limits.funding_page_param: number}),
                since_ms,
                until_ms,
                limits.funding,
                progress,
            )
        else:
            rows = walk_windows(
                lambda start, end: fetch(start, {limits.until_param: end - 1}),
                since_ms,
                until_ms,
                step,
                limits.funding,
                progress,
            )
        points = parse.funding_points(symbol, rows)
        keep = (points.ts_ms >= since_ms) & (points.ts_ms < until_ms)
        return FundingPoints(symbol, points.ts_ms[keep], points.rate[keep], points.mark[keep])

    def ohlcv(
        self,
        symbol: str,
        kind: str,
        timeframe: str,
        since_ms: int,
        until_ms: int,
        progress: Progress | None = None,
    ) -> Candles:
        """Candles opening in [since_ms, until_ms); kind spot (spot market), perp or mark."""
        if kind not in KINDS:
            raise InputError("kind", kind, f"use one of {', '.join(KINDS)}")
        exchange = self._spot() if kind == "spot" else self._ex
        if kind == "spot":
            if symbol not in self._markets(exchange):
                raise InputError("symbol", symbol, f"not a {self.venue.name} spot market")
        else:
            self._swap_market(symbol)
        limits = self._limits(exchange)
        tf_ms = int(exchange.parse_timeframe(timeframe) * 1000)
        method = exchange.fetch_mark_ohlcv if kind == "mark" else exchange.fetch_ohlcv

        def fetch(start: int, end: int) -> list[Any]:
            params = {"until": end - 1}
            return list(
                self._call(
                    f"fetch {kind} candles",
                    lambda: method(symbol, timeframe, start, limits.ohlcv, params),
                )
            )

        step = (limits.ohlcv - 1) * tf_ms  # one candle less than a page, as for funding
        rows = walk_windows(fetch, since_ms, until_ms, step, limits.ohlcv, progress)
        got = parse.candles(rows)
        keep = (got.ts_ms >= since_ms) & (got.ts_ms < until_ms)
        return Candles(
            got.ts_ms[keep], got.open[keep], got.high[keep], got.low[keep], got.close[keep]
        )


def _placeholder_tiers() -> TierTable:
    """A single 0.4 % bracket, labelled as a placeholder (instruments() fetches no tiers)."""
    tier = MarginTier(0.0, math.inf, 125.0, 0.004, 0.0)
    return TierTable((tier,), source="placeholder: call instrument(symbol) for the venue's tiers")


def walk_windows(
    fetch: Callable[[int, int], list[Any]],
    since_ms: int,
    until_ms: int,
    step_ms: int,
    page: int,
    progress: Progress | None,
) -> list[Any]:
    """Fetch [since, until) window by window; halve a window whose answer fills a page."""
    if since_ms >= until_ms:
        raise InputError("until", until_ms, f"give an end after the start {since_ms}")
    rows: list[Any] = []
    start = since_ms
    width = step_ms
    narrowest = max(60_000, step_ms // 256)
    while start < until_ms:
        end = min(until_ms, start + width)
        got = fetch(start, end)
        if len(got) >= page and end - start > narrowest:
            width = max(narrowest, (end - start) // 2)
            continue
        rows.extend(got)
        start = end
        if progress is not None:
            progress(end)
    return rows


def walk_pages(
    fetch_page: Callable[[int], list[Any]],
    since_ms: int,
    until_ms: int,
    page: int,
    progress: Progress | None,
) -> list[Any]:
    """Fetch a newest-first history by page number (1, 2, ...) until a page reaches back before
    since_ms, comes back short, or holds nothing new (a venue that ignores the page number).

    For venues whose history takes no time window (MEXC); rows are ccxt dicts with "timestamp".
    `progress` gets the point reached, counted back from `until_ms`, mapped onto [since, until).
    """
    if since_ms >= until_ms:
        raise InputError("until", until_ms, f"give an end after the start {since_ms}")
    rows: list[Any] = []
    seen: set[int] = set()
    number = 1
    while True:
        got = fetch_page(number)
        stamps = {int(r["timestamp"]) for r in got if r.get("timestamp") is not None}
        fresh = stamps - seen
        rows.extend(got)
        seen |= stamps
        if progress is not None and stamps:
            progress(min(until_ms, since_ms + max(0, until_ms - min(stamps))))
        if len(got) < page or not fresh or min(stamps) < since_ms:
            return rows
        number += 1
