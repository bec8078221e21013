"""LIVE.toml: the live engine's configuration, validated (pydantic) before anything starts.

Tables (every key optional unless noted; units in each field's description):

- ``[live]``   mode: ``trade`` (quote through a venue) or ``monitor`` (another bot
  posts its fills and market data; flatbook computes zones, quotes and the hedge
  recommendation and sends nothing). ``contract``, ``contract_size``,
  ``settlement_currency``: the instrument whose value sets the PnL's currency
  (:func:`flatbook.data.events.contract_value`): ``auto`` takes it from the
  replayed data or the ccxt market (linear, size 1 otherwise); set, it overrides
  a replay's data (as ``flatbook backtest --contract``) and must agree with a
  ccxt market.
- ``[run]``    preset, policy, seed: as ``flatbook simulate``; ``policy_file``: a Python file of
  your own policies (as ``flatbook live --policy-file``; a relative path is taken like
  ``feed.path``), loaded before ``policy`` is looked up; ``[params]`` any
  parameter of ``flatbook params`` (a replay feed fills in from its data what is
  not set: :func:`flatbook.backtest.backtester.data_defaults`). The time unit of
  the live presets is the second. The parameters may also be given by group, in the run config's
  sections ``[policy]`` ``[market]`` ``[controls]`` ``[hedge]`` ``[costs]``
  (:mod:`flatbook.paramgroups`; a key in the wrong section says where it belongs), and ``[params]``
  takes dotted long names too (``controls.limit``); every value is checked by its parameter
  (:meth:`flatbook.params.Param.parse`) when the file is read.
- ``[feed]``   kind ``replay`` (path, format, speed, start, stop) / ``api`` / ``ccxt``.
- ``[venue]``  kind ``paper`` (queue, feed_latency, order_latency; fees: the ``maker_fee*`` and
  ``taker_fee*`` parameters) /
  ``ccxt`` (exchange, symbol, api_key_env, secret_env, sandbox) / ``none``.
- ``[risk]``   pre-trade limits, the throttle and the end-of-session flatten.
- ``[journal]`` path, synchronous; ``[api]`` host, port, token / token_env;
  ``[alerts]`` webhook, zone_hysteresis (h: zones are left below threshold × (1 − h); default 0.1).

A bad value raises :class:`~flatbook.errors.InputError` naming ``table.key`` and
what is allowed (the CLI exits 2).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator

from ..backtest.latency import Latency
from ..config import read_toml, section_params
from ..errors import InputError
from ..paramgroups import config_schema
from ..params import GROUPS, PARAMS, resolve
from ..policies.loader import load_policies
from ..policies.registry import policy_spec
from ..presets import PRESETS
from ..suggest import did_you_mean, unknown

_RUN_SCHEMA = config_schema()["properties"]


# The parameter sections: tables checked after the policy file is loaded (a user policy adds its
# parameters), documented in the JSON schema as the run config's sections of the same names.
ParamsTable = Annotated[dict[str, Any], WithJsonSchema(_RUN_SCHEMA["params"])]
PolicySection = Annotated[dict[str, Any], WithJsonSchema(_RUN_SCHEMA["policy"])]
MarketSection = Annotated[dict[str, Any], WithJsonSchema(_RUN_SCHEMA["market"])]
ControlsSection = Annotated[dict[str, Any], WithJsonSchema(_RUN_SCHEMA["controls"])]
HedgeSection = Annotated[dict[str, Any], WithJsonSchema(_RUN_SCHEMA["hedge"])]
CostsSection = Annotated[dict[str, Any], WithJsonSchema(_RUN_SCHEMA["costs"])]


class _T(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LiveTable(_T):
    mode: Literal["trade", "monitor"] = Field(
        default="trade", description="trade: quote through the venue; monitor: advise another bot (no orders)"
    )
    lot: float = Field(
        default=1e-8, gt=0.0, le=1e9, description="quantity grid, lots (a replay uses its data's lot size)"
    )
    contract: Literal["auto", "linear", "inverse"] = Field(
        default="auto",
        description="auto: the replayed data's or the ccxt market's contract (else linear); linear: "
        "one lot is worth contract_size × price; inverse: one contract is worth contract_size "
        "price-currency units and settles in the base asset (Binance COIN-M)",
    )
    contract_size: float | None = Field(
        default=None,
        gt=0.0,
        le=1e12,
        allow_inf_nan=False,
        description="C: price-currency units per inverse contract (e.g. 100 for "
        "Binance COIN-M BTCUSD), base units per linear one; default: "
        "the data's or market's, else 1",
    )
    settlement_currency: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="currency of cash, fees and PnL (default: the data's or "
        "market's; the price unit if linear, the base if inverse)",
    )


class RunTable(_T):
    preset: str = Field(default="replay", description="parameter preset (time unit: second for replay)")
    policy: str = Field(default="linear-skew", description="quoting policy")
    policy_file: str | None = Field(
        default=None,
        description="Python file of user policies (@flatbook.policies.policy), loaded before policy is looked up",
    )
    seed: int = Field(default=0, ge=0, le=2**63 - 1, description="paper venue's latency and queue draws")


class FeedTable(_T):
    kind: Literal["replay", "api", "ccxt"] = "replay"
    path: str | None = Field(default=None, description="replay: a market-data file (../shared/data/...)")
    format: Literal["auto", "lobster", "binance", "generic", "events"] = "auto"
    speed: float = Field(
        default=0.0, ge=0.0, le=1e6, description="replay speed: 1 real time, N N× faster, 0 as fast as possible"
    )
    start: int = Field(default=0, ge=0, description="replay: first event index")
    stop: int | None = Field(default=None, ge=1, description="replay: stop before this event index")
    exchange: str | None = Field(default=None, description="ccxt: exchange id (e.g. binance)")
    symbol: str | None = Field(default=None, description="ccxt: unified symbol (e.g. BTC/USDT)")
    poll_s: float = Field(default=1.0, gt=0.0, le=3600.0, description="ccxt: polling interval, seconds")


class VenueTable(_T):
    kind: Literal["paper", "ccxt", "none"] = "paper"
    queue: Literal["prorata", "prob"] = "prorata"
    feed_latency: str | float = Field(
        default=0.0,
        description="paper: latency spec in ms (flatbook backtest --feed-latency forms, e.g. 5 or lognormal:5,0.5)",
    )
    order_latency: str | float = Field(default=0.0, description="paper: order latency spec in ms")
    exchange: str | None = None
    symbol: str | None = None
    api_key_env: str = "FLATBOOK_API_KEY"
    secret_env: str = "FLATBOOK_API_SECRET"
    sandbox: bool = True


class RiskTable(_T):
    max_orders_per_s: float = Field(
        default=50.0,
        gt=0.0,
        le=1e6,
        description="order-rate throttle: requests per second (event time), sliding 1 s window",
    )
    session_end_s: float | None = Field(
        default=None,
        gt=0.0,
        description="seconds after the first event at which the "
        "session ends: quotes are cancelled and the position flattened with "
        "immediate-or-cancel orders (replay default: 300 s before the tape ends)",
    )
    flatten_slippage_ticks: float = Field(
        default=10.0, ge=0.0, le=1e6, description="the flatten's limit, ticks through the touch"
    )
    min_requote_ms: float = Field(
        default=0.0, ge=0.0, le=3.6e6, description="minimum time between two decisions that send orders, ms"
    )
    refresh_ticks: float = Field(
        default=1.0,
        ge=0.0,
        le=1e6,
        description="re-send a side only when its price moves this many ticks (or its size changes)",
    )
    markout_s: float = Field(default=1.0, gt=0.0, le=86400.0, description="horizon of the adverse-selection markout, s")


class JournalTable(_T):
    path: str = Field(default="results/live/journal.sqlite", description="SQLite journal file")
    synchronous: Literal["normal", "full"] = "normal"
    snapshot_every: int = Field(
        default=2000, ge=1, le=10**9, description="replay: snapshot at least every this many events"
    )


class ApiTable(_T):
    enabled: bool = True
    host: str = Field(default="127.0.0.1", description="bind address (default loopback only)")
    port: int = Field(default=8765, ge=0, le=65535, description="0: any free port (printed on start)")
    token: str | None = Field(default=None, min_length=16, description="bearer token for mutating endpoints")
    token_env: str = Field(default="FLATBOOK_LIVE_TOKEN", description="environment variable holding the token")


class AlertsTable(_T):
    webhook: str | None = Field(default=None, description="URL that receives each alert as a JSON POST")
    zone_hysteresis: float = Field(
        default=0.1,
        ge=0.0,
        lt=1.0,
        allow_inf_nan=False,
        description="h, a fraction: a zone is entered at its threshold and left "
        "when |q| falls below threshold × (1 − h); 0: no hysteresis",
    )

    @field_validator("webhook")
    @classmethod
    def _url(cls, v):
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v


class LiveSettings(_T):
    live: LiveTable = LiveTable()
    run: RunTable = RunTable()
    params: ParamsTable = {}
    policy: PolicySection = {}
    market: MarketSection = {}
    controls: ControlsSection = {}
    hedge: HedgeSection = {}
    costs: CostsSection = {}
    feed: FeedTable = FeedTable()
    venue: VenueTable = VenueTable()
    risk: RiskTable = RiskTable()
    journal: JournalTable = JournalTable()
    api: ApiTable = ApiTable()
    alerts: AlertsTable = AlertsTable()


def _field(loc) -> str:
    return ".".join(str(x) for x in loc)


def parse_settings(data: dict, base: Path | None = None) -> LiveSettings:
    """Validate a LIVE.toml mapping; relative paths are taken from ``base`` (the file's folder)."""
    try:
        s = LiveSettings.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = _field(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            tab = err["loc"][0] if len(err["loc"]) > 1 else None
            model = LiveSettings.model_fields[tab].annotation if tab in LiveSettings.model_fields else LiveSettings
            names = list(getattr(model, "model_fields", {}))  # a table's keys; a parameter section: none
            msg = f"unknown key; allowed: {', '.join(names)}{did_you_mean(err['loc'][-1], names)}"
        else:
            msg = f"{msg} (got {err.get('input')!r})"
        raise InputError(field, msg) from None
    if s.run.preset not in PRESETS:
        raise unknown("run.preset", "preset", s.run.preset, PRESETS)
    if s.run.policy_file is not None:
        pf = Path(s.run.policy_file).expanduser()
        if base is not None and not pf.is_absolute():
            pf = base / pf
        try:
            load_policies(pf)
        except InputError as e:  # the loader names its CLI option: name the key instead
            raise InputError("run.policy_file", str(e).removeprefix(f"{e.field}: ")) from None
        s = s.model_copy(update={"run": s.run.model_copy(update={"policy_file": str(pf)})})
    policy_spec(s.run.policy)
    s = s.model_copy(update={"params": _params(s), **{g: {} for g in GROUPS[1:]}})
    for name in ("feed_latency", "order_latency"):
        Latency.parse(f"venue.{name}", getattr(s.venue, name))
    f, v = s.feed, s.venue
    if s.live.mode == "trade":
        if f.kind == "api":
            raise InputError(
                "feed.kind", "api feeds post market data for monitor mode; in trade mode allowed: replay, ccxt"
            )
        if v.kind == "none":
            raise InputError("venue.kind", "trade mode needs a venue; allowed: paper, ccxt")
        if v.kind == "paper" and f.kind != "replay":
            raise InputError("venue.kind", "the paper venue fills against a replayed tape: use feed.kind = replay")
    elif v.kind != "none":
        raise InputError("venue.kind", "monitor mode sends no orders; allowed: none")
    if f.kind == "replay":
        if not f.path:
            raise InputError("feed.path", "a replay feed needs a market-data file (e.g. ../shared/data/lobster/...)")
        p = Path(f.path)
        if base is not None and not p.is_absolute():
            p = base / p
        if not p.is_file():
            raise InputError("feed.path", f"no such file: {p}")
        s = s.model_copy(update={"feed": f.model_copy(update={"path": str(p)})})
        if f.stop is not None and f.stop <= f.start:
            raise InputError("feed.stop", f"must be greater than feed.start ({f.start}); got {f.stop}")
    if "ccxt" in (f.kind, v.kind):
        for tab, t in (("feed", f), ("venue", v)):
            if (tab == "feed" and f.kind == "ccxt") or (tab == "venue" and v.kind == "ccxt"):
                if not t.exchange:
                    raise InputError(f"{tab}.exchange", "a ccxt exchange id is required (e.g. binance)")
                if not t.symbol:
                    raise InputError(f"{tab}.symbol", "a ccxt symbol is required (e.g. BTC/USDT)")
    lv = s.live
    if lv.contract == "inverse" and lv.contract_size is None and f.kind == "api":
        raise InputError(
            "live.contract_size",
            "an inverse contract needs its size in the price currency (e.g. 100 for 100 USD per contract)",
        )
    if (
        lv.contract == "auto"
        and f.kind == "api"
        and (lv.contract_size is not None or lv.settlement_currency is not None)
    ):
        raise InputError(
            "live.contract",
            "an api feed has no contract to detect: set linear or inverse "
            "with live.contract_size / live.settlement_currency",
        )
    jp = Path(s.journal.path)
    if base is not None and not jp.is_absolute():
        jp = base / jp
    s = s.model_copy(update={"journal": s.journal.model_copy(update={"path": str(jp)})})
    if s.risk.session_end_s is not None and not math.isfinite(s.risk.session_end_s):
        raise InputError("risk.session_end_s", "must be a finite number of seconds")
    return s


def _params(s: LiveSettings) -> dict[str, Any]:
    """``[params]`` and the group sections as one flat table by short name, every value checked by its
    parameter (after the policy file is loaded: a user policy's parameters are known then)."""
    flat = {resolve(str(k), f"params.{k}"): v for k, v in s.params.items()}
    if len(flat) != len(s.params):
        raise InputError("params", "a parameter is given twice (by its short and its dotted name); give it once")
    tables = {"params": flat, **{g: getattr(s, g) for g in GROUPS[1:]}}
    out = section_params(tables)
    for table, body in tables.items():
        for key, raw in body.items():
            try:
                PARAMS[key].parse(raw)  # checked here; the run's config parses the value as given
            except InputError as e:
                raise InputError(f"{table}.{key}", str(e).removeprefix(f"{e.field}: ")) from None
    return out


def schema() -> dict[str, Any]:
    """The JSON schema of LIVE.toml (every table; the parameter sections as a run config's)."""
    out = LiveSettings.model_json_schema()
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["title"] = "flatbook LIVE.toml"
    return out


def load_settings(path: str | Path) -> LiveSettings:
    """Read and validate LIVE.toml (relative paths in it are relative to the working directory)."""
    p = Path(path)
    return parse_settings(read_toml(p))


def api_token(s: LiveSettings) -> str | None:
    """The API's bearer token: ``api.token``, else the ``api.token_env`` environment variable."""
    import os

    tok = s.api.token or os.environ.get(s.api.token_env) or None
    if tok is not None and len(tok) < 16:
        raise InputError(s.api.token_env, "the API token must be at least 16 characters")
    return tok
