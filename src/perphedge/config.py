"""The portfolio file (TOML): holdings and how to hedge them, loaded into frozen typed models.

    [[holdings]]
    asset = "BTC"
    quantity = 0.5
    price = 60000          # optional: else the local store, or the exchange with --live
    ratio = 0.5            # optional: overrides [hedge].ratio for this holding
    proxy = "BTC"          # optional: hedge with another coin's perpetual ...
    beta = 1.3             # ... at this beta (notional x ratio x beta)
    location = "ledger"    # optional, informational: where the coins are held

    [hedge]
    ratio = 1.0            # 0.5 hedges half
    leverage = 5
    exchange = "binance"
    contract = "linear"    # or "inverse" (coin-margined)
    margin_mode = "isolated"
    order_type = "limit"   # or "market"

    [keeper]               # optional: the policy that keeps the short alive (hedge/keeper.py)
    min_distance = 0.3     # top up when the liquidation is closer than 30 % ...
    target_distance = 0.5  # ... back to 50 %
    reserve_usd = 5000     # optional: cash set aside for top-ups (default: plan's reserve_usd)
    on_shortfall = "sell_spot"   # or "delever", "alert"

Unknown keys are errors naming the key. Every error is one line,
"portfolio.toml: holdings[1].quantity=-3: give a number greater than zero", with holdings
counted from 0 as in the file's array.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from perphedge.errors import InputError
from perphedge.hedge.keeper import FundingAction, KeeperPolicy, Shortfall
from perphedge.instruments import ContractKind
from perphedge.margin import MarginMode
from perphedge.portfolio import Holding, Portfolio, normalise_asset
from perphedge.ports import OrderType


class ConfigError(InputError):
    """A portfolio file is invalid; the message names the file, the key path, value and fix."""

    def __init__(self, file: str, path: str, value: object, fix: str) -> None:
        super().__init__(f"{file}: {path}", value, fix)
        self.path = path  # "holdings[1].quantity": where the page shows the error
        shown = "" if value is _ABSENT else f"={_show(value)}"
        self.args = (f"{file}: {path}{shown}: {fix}",)


_ABSENT = object()


def _show(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class HoldingConfig(_Model):
    asset: str
    quantity: float
    price: float | None = None
    ratio: float | None = None
    proxy: str | None = None
    beta: float | None = None
    location: str | None = None


class HedgeConfig(_Model):
    ratio: float = 1.0
    leverage: float = 1.0
    exchange: str = "binance"
    contract: Literal["linear", "inverse"] = "linear"
    margin_mode: Literal["isolated", "cross"] = "isolated"
    order_type: Literal["limit", "market"] = "limit"

    @property
    def kind(self) -> ContractKind:
        return ContractKind(self.contract)

    @property
    def mode(self) -> MarginMode:
        return MarginMode(self.margin_mode)

    @property
    def order(self) -> OrderType:
        return OrderType(self.order_type)


_KEEPER = KeeperPolicy()


class KeeperConfig(_Model):
    """The [keeper] section: `KeeperPolicy`'s fields (same names, defaults and bounds) plus the
    reserve. `reserve_usd` None: size it from history (plan's `reserve_usd`)."""

    min_distance: float = _KEEPER.min_distance
    target_distance: float = _KEEPER.target_distance
    drift_band: float = _KEEPER.drift_band
    on_shortfall: Literal["sell_spot", "delever", "alert"] = "sell_spot"
    spot_on_exchange: bool = _KEEPER.spot_on_exchange
    reopen: bool = _KEEPER.reopen
    reopen_cooldown_hours: float = _KEEPER.reopen_cooldown_hours
    funding_limit_apr: float = _KEEPER.funding_limit_apr
    funding_action: Literal["keep", "reduce", "unwind"] = "keep"
    funding_reduced_ratio: float = _KEEPER.funding_reduced_ratio
    funding_hysteresis_apr: float = _KEEPER.funding_hysteresis_apr
    funding_min_hold_hours: float = _KEEPER.funding_min_hold_hours
    funding_window_days: float = _KEEPER.funding_window_days
    return_surplus: bool = _KEEPER.return_surplus
    surplus_distance: float = _KEEPER.surplus_distance
    reserve_usd: float | None = None

    def policy(self) -> KeeperPolicy:
        """The core policy; InputError naming the field when a value is out of bounds."""
        values = self.model_dump(exclude={"reserve_usd"})
        values["on_shortfall"] = Shortfall(values["on_shortfall"])
        values["funding_action"] = FundingAction(values["funding_action"])
        return KeeperPolicy(**values)


class PortfolioFile(_Model):
    holdings: list[HoldingConfig]
    hedge: HedgeConfig = HedgeConfig()
    keeper: KeeperConfig = KeeperConfig()


@dataclass(frozen=True)
class PortfolioConfig:
    """A loaded portfolio file: the domain portfolio plus the [hedge] and [keeper] settings."""

    name: str
    portfolio: Portfolio
    hedge: HedgeConfig
    keeper: KeeperPolicy = _KEEPER
    reserve_usd: float | None = None


def _loc_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _lookup(raw: Any, loc: tuple[int | str, ...]) -> object:
    value: Any = raw
    for part in loc:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return _ABSENT
    return value


_FIXES = {
    "extra_forbidden": "unknown key; remove it or fix its spelling",
    "missing": "required; add it",
    "float_parsing": "give a number",
    "float_type": "give a number",
    "string_type": "give a text in quotes",
    "literal_error": "use one of {expected}",
    "list_type": "give a list ([[holdings]] tables)",
    "model_type": "give a table",
    "bool_type": "give true or false",
    "bool_parsing": "give true or false",
}


def _from_validation(file: str, raw: dict[str, Any], error: ValidationError) -> list[ConfigError]:
    """Every error of a validation, unknown keys first (a misspelled key also makes its right
    name "missing": the typo is named first)."""
    errors = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")
    found = []
    for e in errors:
        loc = tuple(e["loc"])
        fix = _FIXES.get(e["type"], e["msg"])
        if "{expected}" in fix:
            fix = fix.format(expected=e.get("ctx", {}).get("expected", "the allowed values"))
        value = _ABSENT if e["type"] == "extra_forbidden" else _lookup(raw, loc)
        found.append(ConfigError(file, _loc_path(loc), value, fix))
    return found


def _peel(build: Callable[[dict[str, Any]], object], values: dict[str, Any],
          neutral: Callable[[str], object]) -> list[InputError]:  # fmt: skip
    """Every field error of `build(values)`, not just the first: a failing field is replaced by
    `neutral(field)` (a valid value) and the build is tried again."""
    found: list[InputError] = []
    values = dict(values)
    while True:
        try:
            build(values)
            return found
        except InputError as bad:
            again = any(seen.field == bad.field for seen in found)  # it hangs on another field
            if again or bad.field not in values:
                return found + ([] if again else [bad])
            found.append(bad)
            values[bad.field] = neutral(bad.field)


def _holding(values: dict[str, Any]) -> Holding:
    """A domain holding from a [[holdings]] table's values (file names)."""
    named = {"qty_base" if key == "quantity" else key: value for key, value in values.items()}
    return Holding(**named)


def _holding_errors(
    file: str, raw: dict[str, Any], index: int, cfg: HoldingConfig
) -> list[ConfigError]:
    neutral = _holding_stand_ins(cfg.model_dump())
    found = _peel(_holding, cfg.model_dump(), neutral.get)
    return [_named(file, raw, ("holdings", index), bad) for bad in found]


def _holding_stand_ins(table: Mapping[str, Any]) -> dict[str, object]:
    """Valid values for a holding's fields, in place of wrong ones (the ticker is one that
    neither the asset nor the proxy uses, so no clash is invented)."""
    others = {str(table.get(k) or "").strip().upper() for k in ("asset", "proxy")}
    spare = next(t for t in ("X", "Y", "Z") if t not in others)
    return {"asset": spare, "quantity": 1.0, "proxy": spare}


def _named(
    file: str, raw: dict[str, Any], section: tuple[int | str, ...], bad: InputError
) -> ConfigError:
    """A domain error of one field, as the file's error (the value as written in the file)."""
    loc = (*section, bad.field)
    value = _lookup(raw, loc)
    return ConfigError(file, _loc_path(loc), bad.value if value is _ABSENT else value, bad.fix)


def parse_portfolio(text: str, name: str = "portfolio.toml") -> PortfolioConfig:
    """Parse portfolio TOML `text` (named `name` in messages) into a PortfolioConfig."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as bad:
        raise ConfigError(name, "(file)", _ABSENT, f"not valid TOML: {bad}") from None
    return portfolio_from_dict(raw, name)


def portfolio_errors(raw: dict[str, Any], name: str = "portfolio.toml") -> list[ConfigError]:
    """Every error of a parsed portfolio document, in file order within each kind: unknown keys
    and wrong types first, then each holding's, [hedge]'s and [keeper]'s values (the page shows
    them all at once; a file load names the first)."""
    try:
        PortfolioFile.model_validate(raw)
        found: list[ConfigError] = []
    except ValidationError as bad:
        found = _from_validation(name, raw, bad)
    holdings = raw.get("holdings")
    if holdings == []:
        found.append(ConfigError(name, "holdings", _ABSENT, "add at least one [[holdings]] table"))
    domain: list[ConfigError] = []
    for index, table in enumerate(holdings if isinstance(holdings, list) else []):
        stand_ins = _holding_stand_ins(table) if isinstance(table, dict) else {}
        if (cfg := _valid(HoldingConfig, table, stand_ins)) is not None:
            domain += _holding_errors(name, raw, index, cfg)
    if (hedge := _valid(HedgeConfig, raw.get("hedge", {}))) is not None:
        domain += _hedge_errors(name, raw, hedge)
    if (keeper := _valid(KeeperConfig, raw.get("keeper", {}))) is not None:
        domain += _keeper_errors(name, raw, keeper)
    named = {bad.path for bad in found}
    return found + [bad for bad in domain if bad.path not in named]


_Section = TypeVar("_Section", bound=_Model)


def _valid(
    model: type[_Section], raw: object, stand_ins: Mapping[str, object] | None = None
) -> _Section | None:
    """The section validated so that its values can be checked: a field of a wrong type (the
    whole-file validation names it) is replaced by a valid stand-in (`stand_ins`, else the
    field's default) and an unknown key left out. None when it is not a table."""
    if not isinstance(raw, dict):
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as bad:
        patched = dict(raw)
        for error in bad.errors():
            key = str(error["loc"][0]) if error["loc"] else ""
            if error["type"] == "extra_forbidden":
                patched.pop(key, None)
            elif key in model.model_fields:
                default = model.model_fields[key].default
                patched[key] = (stand_ins or {}).get(key, default)
    try:
        return model.model_validate(patched)
    except ValidationError:
        return None


def portfolio_from_dict(raw: dict[str, Any], name: str = "portfolio.toml") -> PortfolioConfig:
    """Validate a parsed portfolio document (TOML file or the page's form), the same rules;
    ConfigError names the first error (`portfolio_errors` lists them all)."""
    errors = portfolio_errors(raw, name)
    if errors:
        raise errors[0]
    parsed = PortfolioFile.model_validate(raw)
    return PortfolioConfig(
        name=name,
        portfolio=Portfolio(tuple(_holding(h.model_dump()) for h in parsed.holdings)),
        hedge=parsed.hedge,
        keeper=parsed.keeper.policy(),
        reserve_usd=parsed.keeper.reserve_usd,
    )


def _keeper_errors(file: str, raw: dict[str, Any], keeper: KeeperConfig) -> list[ConfigError]:
    found = []
    reserve = keeper.reserve_usd
    if reserve is not None and not (reserve >= 0 and reserve < float("inf")):
        loc = ("keeper", "reserve_usd")
        found.append(
            ConfigError(file, _loc_path(loc), _lookup(raw, loc), "give USD >= 0, e.g. 5000")
        )
    values = keeper.model_dump(exclude={"reserve_usd"})
    peeled = _peel(lambda v: KeeperConfig(**v).policy(), values, lambda key: getattr(_KEEPER, key))
    return found + [_named(file, raw, ("keeper",), bad) for bad in peeled]


def _hedge_errors(file: str, raw: dict[str, Any], hedge: HedgeConfig) -> list[ConfigError]:
    def fail(key: str, fix: str) -> ConfigError:
        loc = ("hedge", key)
        return ConfigError(file, _loc_path(loc), _lookup(raw, loc), fix)

    found = []
    if not 0.0 <= hedge.ratio <= 1.0:
        found.append(fail("ratio", "give a fraction between 0 and 1 (0.5 = half)"))
    if not hedge.leverage >= 1:
        found.append(fail("leverage", "give a leverage of at least 1 (1 = no borrowing), e.g. 2"))
    try:
        normalise_asset("exchange", hedge.exchange)
    except InputError:
        found.append(fail("exchange", "give an exchange name such as binance"))
    return found


def load_portfolio(path: str | Path) -> PortfolioConfig:
    """Read and parse a portfolio file; InputError when it cannot be read."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("PORTFOLIO", str(path), "no such file; give a portfolio .toml") from None
    except (OSError, UnicodeDecodeError) as bad:
        raise InputError("PORTFOLIO", str(path), f"cannot read it: {bad}") from None
    return parse_portfolio(text, file.name)
