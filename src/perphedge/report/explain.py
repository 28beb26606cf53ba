"""Plain words for every number perphedge shows: metrics, risks, a glossary, cash in words.

One place, used by the HTML reports (`--report`, `--plot`) and the local page, so a metric is
explained the same way wherever it appears. Written for someone who holds coins and has never
traded a perpetual future.
"""

from __future__ import annotations

import math

from perphedge.hedge.model import HedgePlan, PlanLeg
from perphedge.report.render import fmt_num

EXPLAIN: dict[str, str] = {
    # backtest metrics (BacktestResult.summary keys)
    "total_return": "How much the whole account (coins plus margin account) gained or lost over "
    "the period, as a share of what it started with.",
    "volatility": "How much the account's value swung from day to day, scaled to a year. "
    "Lower means a calmer ride; insurance should lower it.",
    "max_drawdown": "The deepest fall from a previous high, as a share of that high. "
    "It is the worst loss someone who bought at the top would have seen.",
    "worst_month": "The worst calendar month's return.",
    "var_95": "Value at risk: on 95 % of days the account lost less than this. "
    "One day in twenty was worse.",
    "cvar_95": "The average loss on the worst 5 % of days (the days value at risk leaves out).",
    "hedge_effectiveness": "The share of the coins' price swings that the short removed "
    "(1 = all of them, 0 = none).",
    "upside_given_up": "What a rally earned the coins but the short gave back. "
    "This is the price of the insurance in a rising market.",
    "liquidations": "How many times the exchange closed a short because its margin ran out. "
    "Each one loses that short's margin and leaves the coins uninsured.",
    "liquidation_loss": "Margin lost to liquidations, in USD.",
    "top_ups": "Margin moved in from the reserve to keep shorts alive, in USD.",
    "margin_lost": "Margin the exchange kept when shorts were liquidated, in USD.",
    "spot_sold_usd": "Coins the keeper sold on the exchange to refill the margin when the "
    "reserve ran short, in USD.",
    "reopens": "How many times the keeper opened a short again after it was liquidated.",
    "spot_fees": "Exchange fees paid on the coins the keeper sold, in USD (part of the fees).",
    "funding_switches": "How many times the keeper cut the short because funding cost too "
    "much, or restored it when the cost came down.",
    "days_unhedged": "Days the coins spent without their short, between a liquidation and "
    "the short being opened again.",
    "trades": "Orders the policy placed to open, resize or close the short.",
    "final_equity": "The account's value at the end, in USD.",
    "funding_pnl": "Funding received (+) or paid (-) by the short over the period, in USD.",
    "fees": "Trading fees and slippage paid to open, resize and close the short, and the "
    "fees on coins sold to refill the margin, in USD.",
    "basis_pnl": "Gain or loss from the perpetual's price drifting away from the spot price.",
    "share_hedged": "The share of the time a short was open.",
    "drawdown_cut_per_cost": "How much shallower the worst fall was than without insurance, "
    "divided by what the insurance cost (fees, funding paid and margin lost), both as shares "
    "of the starting value. 2 means each dollar of cost saved two dollars of drawdown.",
    # plan
    "exposure": "What your coins are worth now, in USD.",
    "hedge_notional": "The size of the short in USD: what it gains when prices fall by 100 %.",
    "residual": "What rounding to the exchange's order step leaves uninsured, in USD.",
    "unhedged": "Value not covered by the short (chosen ratio below 1, rounding, no perpetual).",
    "initial_margin": "Money you must deposit on the exchange to open the short "
    "(short size divided by leverage).",
    "liquidation_price": "If the price rises to this level, the exchange closes your short and "
    "keeps its margin.",
    "liquidation_distance": "How far the price must rise before the short is liquidated.",
    "funding_rate": "What longs and shorts pay each other every few hours. A positive rate means "
    "longs pay shorts, so your short earns.",
    "funding_per_day": "Expected funding for the short per day at the planned rate.",
    "funding_per_year": "Expected funding for the short per year at the planned rate.",
    "fees_open": "The trading fee to open the short.",
    "reserve": "Extra money kept ready to add to the margin when prices rise, so the short is "
    "not liquidated.",
    "orders": "The orders that would open the short. The page shows them; it does not send them.",
    # stress columns
    "spot": "Gain or loss of your coins in the scenario.",
    "hedge": "Gain or loss of the short in the scenario.",
    "funding": "Funding received (+) or paid (-) while the short is held.",
    "net": "Coins + short + funding - fees: the change in what you own. "
    "Close to zero means the insurance worked.",
    "margin": "Maintenance margin divided by the margin left: at 100 % the exchange liquidates.",
    "after": "What you own after the scenario: coins at the new price plus what is left in the "
    "margin account.",
    "top_up": "Margin to add beforehand so that this move does not liquidate the short.",
    # funding comparison
    "mean_rate": "The average funding rate per settlement.",
    "apr": "The average rate over a year, without compounding: what a short earned (+) or paid "
    "(-) per year as a share of its size.",
    "apy": "The same with compounding.",
    "share_negative": "The share of settlements in which the short paid instead of earning.",
    "worst_1d": "The worst total funding a short paid over any single day.",
    "worst_7d": "The worst total funding a short paid over any seven days.",
    "longest_negative": "The longest run of settlements in a row in which the short paid.",
}

# what the keeper does (perphedge.hedge.keeper_model.ActionKind values): a name and two sentences
KEEPER_ACTIONS: dict[str, tuple[str, str]] = {
    "top_up": (
        "top-up",
        "The price rose and brought the liquidation price too close: margin "
        "was moved from the reserve to the short, which pushes the liquidation price up.",
    ),
    "resize": (
        "re-size",
        "The short had drifted from its target size (your coins' value "
        "changed): orders brought it back.",
    ),
    "reopen": (
        "re-open",
        "The short had been closed by a liquidation: after the cooldown it "
        "was opened again, so the coins are insured again.",
    ),
    "alert": (
        "alert",
        "Something a person must do: the keeper could not fix it alone "
        "(for example the reserve is spent).",
    ),
    "sell_spot_and_reduce": (
        "spot sold",
        "The reserve was spent: some coins were sold into "
        "the margin and the short reduced by as much.",
    ),
    "delever": (
        "de-levered",
        "The reserve was spent: the short was made smaller so that its margin lasts.",
    ),
    "funding_reduce": (
        "funding cut",
        "Funding cost the short too much: it was made smaller until funding turns.",
    ),
    "funding_restore": (
        "funding back",
        "Funding is back under the limit: the short returned to its full size.",
    ),
    "return_surplus": (
        "surplus back",
        "The price fell and left more margin than needed: the extra went back to the reserve.",
    ),
}

RISKS: dict[str, tuple[str, str]] = {
    "funding": (
        "Funding",
        "Shorts usually earn funding, but when the market is bearish the rate turns negative "
        "and the short pays. Check the funding page for how often that happened.",
    ),
    "liquidation": (
        "Liquidation",
        "When the price rises, the short loses and its margin shrinks; at the liquidation price "
        "the exchange closes it and keeps the margin. Low leverage and a reserve push that "
        "price further away.",
    ),
    "basis": (
        "Basis",
        "The perpetual's price is not exactly the spot price of your coins. The gap (the basis) "
        "is usually small but can widen in a crash, so the insurance is not exact.",
    ),
    "execution": (
        "Execution",
        "Orders fill at the price the market offers, which can be worse than the mark. "
        "Fees and slippage are paid every time the short is opened, resized or closed.",
    ),
    "custody": (
        "Coins on an exchange",
        "The margin (and, for coin-margined shorts, the coins) sits on the exchange, which can "
        "be hacked, freeze withdrawals or go bankrupt. Keep there only what the short needs.",
    ),
}

GLOSSARY: tuple[tuple[str, str], ...] = (
    ("Perpetual future (perp)", "A contract that follows a coin's price and never expires. "
     "Going short it gains when the price falls."),
    ("Short", "A position that gains when the price falls and loses when it rises."),
    ("Hedge", "A short of the same size as your coins: what the coins lose, the short gains."),
    ("Hedge ratio", "The share of your coins' value that the short covers (1 = all)."),
    ("Notional", "The size of a position in USD: quantity x price."),
    ("Margin", "Money deposited on the exchange as a guarantee for the short."),
    ("Leverage", "Position size divided by margin. 5x: 1,000 USD of margin holds 5,000 USD of short."),
    ("Maintenance margin", "The minimum margin a position must keep; below it the exchange "
     "liquidates."),
    ("Liquidation", "The exchange closing a position whose margin ran out. The margin is lost."),
    ("Isolated / cross", "Isolated: each position has its own margin. Cross: positions share one "
     "margin account."),
    ("Linear / inverse", "Linear (USDT-margined): margin and profit in USDT. Inverse "
     "(coin-margined): margin and profit in the coin itself."),
    ("Funding rate", "A payment between longs and shorts every 1 to 8 hours that keeps the "
     "perpetual's price near spot. Positive: longs pay shorts, so your short earns."),
    ("APR", "A rate per year without compounding."),
    ("Mark price", "The exchange's fair price of the perpetual, used for margin and liquidation."),
    ("Basis", "The difference between the perpetual's price and the coin's spot price."),
    ("Paper trading", "Trading on a simulated account with real prices and no real money."),
    ("Drawdown", "A fall from a previous high."),
    ("Reserve", "Money kept aside to top up the margin when prices rise."),
    ("Keeper", "The rule that keeps a short alive: it checks each short again and again, adds "
     "margin from the reserve when the liquidation price comes too close, re-sizes a short that "
     "drifted, re-opens a lost one, and alerts you when it cannot fix something alone."),
    ("Top-up", "Margin added to a short so that its liquidation price moves further away."),
    ("Bar", "One step of stored prices (here 8 hours): the keeper looks at the account once "
     "per bar when it replays history."),
)  # fmt: skip


def cash_words(amount: float | None, currency: str = "USD") -> str:
    """Signed cash to the short in words: 12.3 -> 'you earn 12.30 USD', -4 -> 'you pay 4.00 USD'.

    `amount` is cash received by the holder (negative: paid), as `funding.funding_payment`
    returns it; the sign rule of rates lives there, this only reads the sign of cash.
    """
    if amount is None or not math.isfinite(amount):
        return "unknown"
    if amount > 0:
        return f"you earn {fmt_num(amount)} {currency}"
    if amount < 0:
        return f"you pay {fmt_num(-amount)} {currency}"
    return f"0 {currency}"


def signed_usd(amount: float | None, digits: int = 0) -> str:
    """+1,234 / -1,234 / 0 (for tables of gains and losses)."""
    if amount is None or not math.isfinite(amount):
        return "—"
    text = fmt_num(abs(amount), digits)
    if round(amount, digits) == 0:
        return text
    return ("+" if amount > 0 else "−") + text


def outcome_words(net_usd: float, hedge_usd: float, liquidated: bool) -> str:
    """A stress scenario in words; a liquidation always reads as the loss it is."""
    if liquidated:
        return (
            f"LOSS: the short is liquidated, {fmt_num(max(-hedge_usd, 0.0), 0)} USD of margin "
            "lost and the coins no longer insured"
        )
    return net_words(net_usd)


def net_words(net_usd: float) -> str:
    """'you gain 12 USD', 'you lose 3 USD', or 'about even' within half a dollar."""
    if net_usd >= 0.5:
        return f"you gain {fmt_num(net_usd, 0)} USD"
    if net_usd <= -0.5:
        return f"you lose {fmt_num(-net_usd, 0)} USD"
    return "about even"


def nearest_liquidation(plan: HedgePlan) -> PlanLeg | None:
    """The open leg liquidated by the smallest price rise (None: no leg can be liquidated)."""
    legs = [
        leg
        for leg in plan.legs
        if leg.position is not None and leg.liquidation_distance is not None
    ]
    return min(legs, key=lambda leg: leg.liquidation_distance or 0.0, default=None)


def risk_figures(plan: HedgePlan) -> dict[str, str]:
    """The number to show beside each risk of `plan` (keys of RISKS), in words."""
    leg = nearest_liquidation(plan)
    if leg is not None and leg.liquidation_distance is not None:
        liquidation = (
            f"nearest liquidation: the price of {leg.instrument.base} rising "
            f"{leg.liquidation_distance * 100:.1f} % (to {fmt_num(leg.liquidation_price)})"
        )
    else:
        liquidation = "no liquidation price: the coins themselves back the short"
    return {
        "funding": f"{cash_words(plan.funding_per_year_usd)} a year at the planned rates",
        "liquidation": liquidation,
        "basis": f"{fmt_num(plan.hedge_notional)} USD of short follows the perpetual's price",
        "execution": f"{fmt_num(plan.fees_open_usd)} USD of fees to open, about as much to close",
        "custody": f"{fmt_num(plan.initial_margin)} USD of margin kept on {plan.spec.exchange}",
    }
