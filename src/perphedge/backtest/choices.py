"""Policies by name, their parameters from `k=v` text, and sweep grids (pure).

Names used on the command line:

    static    StaticRatio     ratio
    band      DriftBand       ratio, band
    schedule  Schedule        ratio, every_bars
    funding   FundingAware    ratio, negative_window, hysteresis, min_hold_bars, reduced_ratio, band
    vol       VolTriggered    ratio_low, ratio_high (alias: ratio), vol_window, vol_threshold, band
    keeper    Keeper          ratio, band, min_distance, target_distance, reopen_cooldown_bars,
                              on_shortfall (sell_spot|delever|alert), surplus_distance,
                              funding_action (keep|reduce|unwind), funding_limit_apr,
                              funding_reduced_ratio, funding_hysteresis_apr,
                              funding_min_hold_bars, funding_window_bars

Parameters counted in bars (`every_bars`, `min_hold_bars`, `vol_window`, the keeper's
`reopen_cooldown_bars`, `funding_min_hold_bars`, `funding_window_bars`) also accept a duration
such as `7d` or `36h`, turned into whole bars of the data's grid (rounded, at least 1). A policy's
`ratio` defaults to the portfolio's hedge ratio; the other defaults are the policy's own, except
the bar counts, whose defaults here are durations (see `DURATION_DEFAULTS`) because the policies'
own defaults assume one-minute bars. Bounds are checked by the policy itself (InputError naming
the parameter).

A sweep grid is `key=v1,v2;key=v1,...`, e.g. `policy=static,band;ratio=0.5,1;leverage=2,3,5`.
Keys: `policy`, `leverage`, `contract`, `reserve` (USD) and any policy parameter. The grid is the Cartesian product;
a parameter the policy does not take is dropped for that policy and duplicates are removed.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from perphedge.backtest.policies import POLICIES, Policy
from perphedge.errors import InputError
from perphedge.hedge.keeper_model import KeeperPolicy

POLICY_NAMES: dict[str, type[Policy]] = {p.name: p for p in POLICIES}
BAR_PARAMS = frozenset(
    {"every_bars", "min_hold_bars", "vol_window", "reopen_cooldown_bars", "funding_min_hold_bars",
     "funding_window_bars"}
)  # fmt: skip
_LIVE = KeeperPolicy()  # the keeper's durations are the live keeper's defaults
DURATION_DEFAULTS = {
    "every_bars": "7d",
    "min_hold_bars": "3d",
    "vol_window": "30d",
    "reopen_cooldown_bars": f"{_LIVE.reopen_cooldown_hours:g}h",
    "funding_min_hold_bars": f"{_LIVE.funding_min_hold_hours:g}h",
    "funding_window_bars": f"{_LIVE.funding_window_days:g}d",
}
TEXT_PARAMS = frozenset({"on_shortfall", "funding_action"})
RUN_KEYS = frozenset({"policy", "leverage", "contract", "reserve"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def policy_class(name: str) -> type[Policy]:
    """The policy class called `name` on the command line; InputError listing the choices."""
    cls = POLICY_NAMES.get(name.strip().lower())
    if cls is None:
        raise InputError("--policy", name, f"use one of {'|'.join(POLICY_NAMES)}")
    return cls


def policy_name(policy: Policy) -> str:
    return next(name for name, cls in POLICY_NAMES.items() if isinstance(policy, cls))


def param_names(cls: type[Policy]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _unalias(cls: type[Policy], params: Mapping[str, str]) -> dict[str, str]:
    """`ratio` means `ratio_high` for a policy without a plain ratio (vol)."""
    out = dict(params)
    names = param_names(cls)
    if "ratio" in out and "ratio" not in names and "ratio_high" in names:
        out.setdefault("ratio_high", out.pop("ratio"))
    return out


def parse_params(pairs: Sequence[str], field: str = "--param") -> dict[str, str]:
    """['band=0.1', 'ratio=1'] -> {'band': '0.1', 'ratio': '1'}; InputError on a malformed pair."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(field, pair, "write parameters as name=value, e.g. band=0.05")
        out[key.strip().lower()] = value.strip()
    return out


def bars_from(text: str, bar_ms: int, field: str) -> int:
    """'21' -> 21 bars; '7d' with 8-hour bars -> 21 bars (rounded, at least 1)."""
    if text.strip().isdigit():
        return int(text)
    match = _DURATION.match(text.lower())
    if not match:
        raise InputError(field, text, "give a whole number of bars or a duration like 7d or 36h")
    duration_ms = float(match.group(1)) * _UNIT_MS[match.group(2)]
    return max(1, round(duration_ms / bar_ms))


def _number(text: str, field: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(field, text, "give a number") from None


def _whole(text: str, field: str) -> int:
    if not text.strip().lstrip("-").isdigit():
        raise InputError(field, text, "give a whole number")
    return int(text)


def make_policy(name: str, params: Mapping[str, str], default_ratio: float, bar_ms: int) -> Policy:
    """The policy `name` with `params` (text values) on a grid of `bar_ms` bars."""
    cls = policy_class(name)
    params = _unalias(cls, params)
    allowed = param_names(cls)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InputError(
            f"--param {unknown[0]}", params[unknown[0]], f"policy {name} takes {', '.join(allowed)}"
        )
    int_fields = {f.name for f in dataclasses.fields(cls) if f.type in {"int", int}}
    values: dict[str, Any] = {}
    for key in allowed:
        if key in TEXT_PARAMS:
            if key in params:
                values[key] = params[key]
        elif key == "reopen_cooldown_bars" and params.get(key, "").strip() == "-1":
            values[key] = -1  # never re-open
        elif key in BAR_PARAMS:
            values[key] = bars_from(params.get(key, DURATION_DEFAULTS[key]), bar_ms, key)
        elif key in params and key in int_fields:
            values[key] = _whole(params[key], key)
        elif key in params:
            values[key] = _number(params[key], key)
        elif key in {"ratio", "ratio_high"}:
            values[key] = default_ratio
    return cls(**values)


def parse_grid(text: str) -> list[dict[str, str]]:
    """Expand a sweep grid into one {key: value} dict per combination (see module docstring)."""
    axes: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, sep, listed = part.partition("=")
        key = key.strip().lower()
        choices = [v.strip() for v in listed.split(",") if v.strip()]
        if not sep or not key or not choices:
            raise InputError("--grid", part, "write key=v1,v2 parts separated by ';'")
        if key in axes:
            raise InputError("--grid", key, "give each key once")
        axes[key] = choices
    known = RUN_KEYS | {p for cls in POLICY_NAMES.values() for p in param_names(cls)}
    for key in axes:
        if key not in known:
            raise InputError("--grid", key, f"use keys among {', '.join(sorted(known))}")
    axes.setdefault("policy", ["static"])
    for name in axes["policy"]:
        policy_class(name)
    combos: list[dict[str, str]] = []
    for picked in itertools.product(*axes.values()):
        combo = dict(zip(axes, picked, strict=True))
        taken = set(param_names(policy_class(combo["policy"]))) | RUN_KEYS | {"ratio"}
        combo = {k: v for k, v in combo.items() if k in taken}
        if combo not in combos:
            combos.append(combo)
    return combos
