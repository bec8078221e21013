"""Self-contained interactive HTML report of a ``simulate``, ``compare``, ``backtest`` or ``multi`` run.

One HTML file with plotly charts that opens offline: plotly.js is embedded once, inline,
and nothing is loaded from the network. Results first: title and run description; the
run's warnings; the summary table with units; the six panels of seed 000 for sample path 0,
or a backtest's one replay (price and quotes, with the quotes' depth from the mid when they
hide behind it; inventory with the hard limit and zone thresholds; quoted spread; spread
against inventory with the time-controlled Stoll regression; cumulative PnL; inventory
histogram); for ``compare`` every policy overlaid on the same flow plus bars side by side;
the zone timeline and the PnL attribution when present; for a backtest the fills on the
price chart and their markouts. Last, collapsed (``<details>``): the configuration and the
parameters the run used or changed from its preset (a backtest: only what the replay reads).
A ``multi`` report shows the portfolio's summary, each instrument's, the final inventories
and the portfolio PnL over all paths (no sample path is recorded), and per instrument the
parameters it used or changed from the multi-instrument preset.

Both ways in go through the same code: live results (:func:`simulate_report`,
:func:`backtest_report`, :func:`multi_report`) and a saved ``--out`` directory (:func:`report_from_dir`) are first
turned into one plain :class:`ReportData`, which :func:`render` turns into HTML. The
run's ``--json`` object (``summary.json``) is embedded verbatim as a JSON data block
(``<script type="application/json" id="flatbook-report-data">``); since rendering is
deterministic, a report rebuilt from a saved directory equals the one written by the run.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._version import __version__
from ..backtest.replay_params import REPLAY_PARAMS
from ..config import build_config
from ..controls.zones import ZONE_LEVELS, ZONE_NAMES, zone_codes
from ..errors import InputError
from ..extras import require
from ..fileio import atomic_file, make_parents, remove_dirs
from ..jsonutil import jsonable
from ..multi.simulator import MULTI_CORE, MULTI_PARAMS, multi_preset
from ..params import PARAMS
from ..policies.registry import POLICIES
from ..presets import PRESETS, Preset
from ..sim.metrics import StollFit, stoll_regression
from ..sim.summaries import compare_object, simulate_object
from ..units import (
    INSTRUMENT_COLUMNS,
    PNL_UNIT,
    PORTFOLIO_KEYS,
    SUMMARY_UNITS,
    backtest_units,
    fmt,
    fmt_pm,
    multi_unit,
    per_unit,
    unit,
)
from .figure_rules import depth_clip, display_range, estimate_text, limit_off_axis, quotes_hidden, repeated_points
from .six_panel_model import LEVELS, six_panel_model

if TYPE_CHECKING:  # pragma: no cover
    from ..backtest.backtester import BacktestResult
    from ..sim.simulator import SimResult

__all__ = [
    "ATTRIBUTION_KEYS",
    "DATA_ID",
    "ReportData",
    "backtest_report",
    "check_report_path",
    "multi_report",
    "render",
    "report_from_dir",
    "simulate_report",
    "write_report",
]

DATA_ID = "flatbook-report-data"
FORMAT = 1
ATTRIBUTION_KEYS = ("pnl_spread", "pnl_inventory", "pnl_adverse", "pnl_hedge", "pnl_financing", "pnl_fees")
ZONE_COLOURS = ("rgba(0,0,0,0)", *(LEVELS[z][1] for z in ZONE_LEVELS))  # by zone code: none, then the model's
LEVEL_STYLE = {  # name → (legend label, colour, dash, width): the figure model's label and colour
    name: (label, colour, "dash" if name == "limit" else "dashdot", 2.0 if name == "limit" else 1.3)
    for name, (label, colour) in LEVELS.items()
}
MAX_SERIES_POINTS = 10_000  # backtest paths are thinned to this many events for display
MAX_SCATTER_POINTS = 5_000  # inventory-against-spread scatter (the fit uses every point)
MAX_FILL_POINTS = 20_000  # fills drawn on the price chart / markout boxes
HIST_MAX_LEVELS = 200  # up to this many distinct inventory levels on a grid: one bar per level
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
HSPACE = 0.25  # between the six panels' columns: room for the left column's legends
RIGHT_MARGIN = 260  # px right of the figure: room for the right column's legends
SIX_PANEL_MIN_WIDTH = 1300  # px; narrower windows scroll the six panels sideways instead of squeezing the
# plots under their legends (legends keep their size in px)
DEPTH_X, DEPTH_Y = "x7", "y7"  # the quote-depth axis under panel 1, when the quotes hide behind the mid
PLOT_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "toImageButtonOptions": {"format": "svg", "filename": "flatbook"},
}
SIM_FILES = ("summary.json", "series.parquet", "per_path.parquet")
BACKTEST_FILES = ("summary.json", "inventory.parquet", "fills.parquet")
MULTI_FILES = ("summary.json", "per_path.parquet")


# --------------------------------------------------------------------------- the plain data


@dataclass
class ReportData:
    """Everything a report shows, from live results or a saved directory alike.

    ``result`` is the run's ``--json`` object. ``series`` maps each policy to its sample
    path (float arrays ``t``, ``mid``, ``bid``, ``ask``, ``q``, ``pnl``, ``zone``; ``t`` in
    the time axis unit). ``hist`` maps each policy to the inventory sample of panel 6 and
    ``hist_weights`` to its weights (None: counts). ``fills``: a backtest's fills (``t`` in s,
    ``side``, ``px``, ``qty``, ``q``, ``markout_<h>s``).
    """

    kind: str  # simulate | compare | backtest | multi
    result: dict
    series: dict[str, dict[str, np.ndarray]]
    hist: dict[str, np.ndarray]
    hist_weights: dict[str, np.ndarray | None] = field(default_factory=dict)
    fills: dict[str, np.ndarray] | None = None
    start_ns: int | None = None  # backtest: first event (ns since the epoch, UTC)
    end_ns: int | None = None
    events_shown: int | None = None  # backtest: events drawn of all events
    fills_total: int | None = None  # backtest: fills in all (``fills`` may be thinned)
    per_path: dict[str, np.ndarray] | None = None  # multi: per-path columns (pnl, NAME.final_q, …)

    # ----------------------------------------------------------------- derived views
    @property
    def policies(self) -> list[str]:
        if self.kind == "multi":
            return [str(i.get("policy")) for i in self.config["instruments"]]
        return list(self.series)

    @property
    def instruments(self) -> list[str]:
        """multi: the instruments' names."""
        return [str(i.get("name")) for i in self.config["instruments"]]

    @property
    def config(self) -> dict:
        return self.result["config"]

    @property
    def params(self) -> dict:
        return self.config["params"]

    def summaries(self) -> dict[str, dict]:
        """policy → summary (the summary keys of the ``--json`` object)."""
        if self.kind == "compare":
            return dict(self.result["policies"])
        if self.kind == "multi":
            return {"portfolio": {k: v for k, v in self.result.items() if k not in ("config", "per_instrument")}}
        skip = {"config", "data", "options"}
        return {self.policies[0]: {k: v for k, v in self.result.items() if k not in skip}}

    def level(self, name: str) -> float:
        """A limit/threshold parameter as a float (null in JSON = infinite)."""
        v = self.params.get(name)
        return math.inf if v is None else float(v)

    def levels(self) -> dict[str, float]:
        return {k: self.level(k) for k in LEVEL_STYLE}

    @property
    def price_unit(self) -> str:
        return self.result["data"]["price_unit"] if self.kind == "backtest" else "price units"

    @property
    def qty_unit(self) -> str:
        return self.result["data"]["qty_unit"] if self.kind == "backtest" else "lots"

    @property
    def pnl_unit(self) -> str:
        if self.kind == "backtest":  # the contract's settlement currency (BTC for COIN-M inverse contracts)
            return self.result["data"].get("settlement_currency") or self.price_unit
        return "price units × lots"

    @property
    def time_unit(self) -> str:
        if self.kind == "backtest":
            return "s"
        cfg = self.config["instruments"][0] if self.kind == "multi" else self.config
        p = _preset_of(cfg)
        return p.time_unit if p is not None else "time units"

    def data_block(self) -> dict:
        """The JSON data block embedded in the report."""
        return {
            "format": FORMAT,
            "flatbook": __version__,
            "kind": self.kind,
            "title": self.title(),
            "policies": self.policies,
            "result": self.result,
        }

    def title(self) -> str:
        cfg = self.config
        if self.kind == "backtest":
            return f"flatbook backtest — {cfg['policy']} on {self.result['data']['instrument']}"
        if self.kind == "compare":
            return f"flatbook compare — {', '.join(self.policies)} on preset {cfg['preset']}"
        if self.kind == "multi":
            return (
                f"flatbook multi — {len(self.instruments)} instruments ({', '.join(self.instruments)}) on preset "
                f"{cfg.get('preset', 'n/a')}"
            )
        return f"flatbook simulate — {cfg['policy']} on preset {cfg['preset']}"


# --------------------------------------------------------------------------- live results → data


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _sim_data(obj: Mapping, compare: bool, series: Mapping[str, Mapping], final_q: Mapping[str, Any]) -> ReportData:
    ser = {}
    for pol, s in series.items():
        d = {k: _f64(s[k]) for k in ("t", "mid", "bid", "ask", "q", "pnl")}
        d["zone"] = _f64(s["zone"]) if "zone" in s else np.full(d["t"].size, np.nan)
        ser[pol] = d
    return ReportData(
        "compare" if compare else "simulate", jsonable(obj), ser, {pol: _f64(final_q[pol]) for pol in ser}
    )


def simulate_report(results: Sequence[SimResult], compare: bool, obj: Mapping | None = None) -> str:
    """The report of a ``simulate`` (one result) or ``compare`` run; ``obj`` is its ``--json``
    object (built from ``results`` when None). Every result must have recorded path 0."""
    if not results:
        raise ValueError("no results")
    if obj is None:
        obj = compare_object(results) if compare else simulate_object(results[0])
    series, final_q = {}, {}
    for r in results:
        if 0 not in set(np.asarray(r.record_paths).tolist()):
            raise ValueError(f"{r.config.policy}: sample path 0 was not recorded (simulate(record_paths=(0,)))")
        series[r.config.policy] = r.path_series(0)
        final_q[r.config.policy] = r.per_path["final_q"]
    return render(_sim_data(obj, compare, series, final_q))


def _thin(n: int, max_points: int = MAX_SERIES_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` evenly spaced events (first and last kept)."""
    return np.unique(np.linspace(0, n - 1, min(n, max_points)).astype(np.int64))


def _backtest_data(obj: Mapping, path: Mapping[str, Any], fills: Mapping[str, Any]) -> ReportData:
    ts = np.asarray(path["ts"], dtype=np.int64)
    if ts.size < 2:
        raise InputError("RESULTS_DIR", "the inventory path has fewer than 2 events")
    data = ReportData("backtest", jsonable(obj), {}, {})
    idx = _thin(ts.size)
    t = (ts - ts[0]) / 1e9
    ser = {"t": t[idx], **{k: _f64(path[k])[idx] for k in ("mid", "bid", "ask", "q", "pnl")}}
    ser["zone"] = zone_codes(ser["q"], data.levels())
    pol = data.config["policy"]
    data.series = {pol: ser}
    q = _f64(path["q"])
    data.hist = {pol: q[:-1]}
    data.hist_weights = {pol: np.diff(ts) / 1e9}  # time (s) each state lasted
    fts = np.asarray(fills["ts"], dtype=np.int64)
    keep = _thin(fts.size, MAX_FILL_POINTS) if fts.size else np.zeros(0, np.int64)
    data.fills_total = int(fts.size)
    data.fills = {
        "t": ((fts - ts[0]) / 1e9)[keep],
        **{
            k: _f64(fills[k])[keep]
            for k in fills
            if k in ("side", "px", "qty", "q", "fee") or str(k).startswith("markout_")
        },
    }
    data.start_ns, data.end_ns, data.events_shown = int(ts[0]), int(ts[-1]), int(idx.size)
    return data


def backtest_report(res: BacktestResult, obj: Mapping | None = None) -> str:
    """The report of a ``backtest`` run; ``obj`` is its ``--json`` object (built when None)."""
    if obj is None:
        obj = jsonable(
            {**res.summary, "data": res.meta["data"], "options": res.meta["options"], "config": res.meta["config"]}
        )
    return render(_backtest_data(obj, res.path, res.fills))


def _multi_data(obj: Mapping, columns: Mapping[str, Any]) -> ReportData:
    data = ReportData("multi", jsonable(obj), {}, {})
    data.per_path = {str(k): _f64(v) for k, v in columns.items()}
    data.hist = {name: data.per_path[f"{name}.final_q"] for name in data.instruments}
    return data


def multi_report(obj: Mapping, columns: Mapping[str, Any]) -> str:
    """The report of a ``multi`` run: ``obj`` is its ``--json`` object, ``columns`` its per-path
    columns as in ``per_path.parquet`` (``pnl`` and ``NAME.final_q``, ``NAME.max_abs_q``, …)."""
    return render(_multi_data(obj, columns))


# --------------------------------------------------------------------------- saved directory → data


def _dir_error(msg: str) -> InputError:
    return InputError("RESULTS_DIR", msg)


def _read_parquet(path: Path):
    import pandas as pd

    try:
        return pd.read_parquet(path, engine="pyarrow")
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
        raise _dir_error(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None


def _need_columns(df, path: Path, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise _dir_error(f"{path}: missing columns {', '.join(missing)} (not written by flatbook --out?)")


def load_dir(directory: str | os.PathLike) -> ReportData:
    """The :class:`ReportData` of a saved ``simulate``/``compare``/``backtest``/``multi --out`` directory."""
    d = Path(os.path.expanduser(str(directory)))
    if not str(directory).strip():
        raise _dir_error("empty path; give a results directory written with --out")
    if not d.exists():
        raise _dir_error(f"{directory} does not exist")
    if not d.is_dir():
        raise _dir_error(f"{directory} is not a directory")
    present = {p for p in (*SIM_FILES, *BACKTEST_FILES, *MULTI_FILES) if (d / p).is_file()}
    want = (
        " + ".join(SIM_FILES)
        + " (simulate, compare), "
        + " + ".join(BACKTEST_FILES)
        + " (backtest) or "
        + " + ".join(MULTI_FILES)
        + " (multi)"
    )
    if set(BACKTEST_FILES) <= present:
        kind = "backtest"
    elif set(SIM_FILES) <= present:
        kind = "sim"
    elif set(MULTI_FILES) <= present:
        kind = "multi"
    else:
        raise _dir_error(f"{directory} holds no flatbook results; expected {want}")
    try:
        obj = json.loads((d / "summary.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _dir_error(f"{d / 'summary.json'}: not readable JSON ({exc})") from None
    if kind == "multi":
        return _load_multi(d, obj, want)
    if (
        not isinstance(obj, dict)
        or not isinstance(obj.get("config"), dict)
        or not isinstance(obj["config"].get("params"), dict)
    ):
        raise _dir_error(f"{d / 'summary.json'}: no config with params (not written by flatbook --out?)")
    if kind == "backtest":
        if "data" not in obj or "policy" not in obj["config"]:
            raise _dir_error(f"{d / 'summary.json'}: not a backtest summary")
        inv = _read_parquet(d / "inventory.parquet")
        _need_columns(inv, d / "inventory.parquet", ("ts", "mid", "bid", "ask", "q", "pnl"))
        fills = _read_parquet(d / "fills.parquet")
        _need_columns(fills, d / "fills.parquet", ("ts", "side", "px", "qty"))
        return _backtest_data(
            obj,
            {c: inv[c].to_numpy() for c in inv.columns},
            {c: fills[c].to_numpy() for c in fills.columns if c != "time"},
        )
    compare = "policies" in obj
    names = list(obj["policies"]) if compare else [obj["config"].get("policy")]
    series_df = _read_parquet(d / "series.parquet")
    _need_columns(series_df, d / "series.parquet", ("policy", "t", "mid", "bid", "ask", "q", "pnl"))
    per_path = _read_parquet(d / "per_path.parquet")
    _need_columns(per_path, d / "per_path.parquet", ("final_q", *(("policy",) if compare else ())))
    series, final_q = {}, {}
    for name in names:
        s = series_df[series_df["policy"] == name]
        if s.empty:
            raise _dir_error(f"{d / 'series.parquet'}: no sample path of policy {name!r}")
        series[name] = {c: s[c].to_numpy() for c in s.columns if c != "policy"}
        final_q[name] = (
            per_path.loc[per_path["policy"] == name, "final_q"] if compare else per_path["final_q"]
        ).to_numpy()
    return _sim_data(obj, compare, series, final_q)


def _load_multi(d: Path, obj, want: str) -> ReportData:
    cfg = obj.get("config") if isinstance(obj, dict) else None
    ins = cfg.get("instruments") if isinstance(cfg, dict) else None
    if (
        not isinstance(ins, list)
        or not ins
        or not all(isinstance(i, dict) and isinstance(i.get("params"), dict) for i in ins)
    ):
        raise _dir_error(
            f"{d} holds no flatbook results ({d / 'summary.json'} is not a multi summary); expected {want}"
        )
    per_path = _read_parquet(d / "per_path.parquet")
    _need_columns(per_path, d / "per_path.parquet", ("pnl", *(f"{i.get('name')}.final_q" for i in ins)))
    return _multi_data(obj, {c: per_path[c].to_numpy() for c in per_path.columns})


def report_from_dir(directory: str | os.PathLike) -> str:
    """Rebuild the report from a saved ``--out`` directory, without running anything again."""
    return render(load_dir(directory))


# --------------------------------------------------------------------------- writing


def check_report_path(raw: str, field: str = "--report") -> Path:
    """Validate a report path before any work: ends in .html; its directory exists and is
    writable, or can be created; plotly (the extra ``report``) must be installed."""
    require("report", "plotly", field=field)
    if not str(raw).strip():
        raise InputError(field, "empty path; give a file name ending in .html")
    p = Path(os.path.abspath(os.path.expanduser(raw)))
    if p.suffix.lower() != ".html":
        raise InputError(field, f"got {raw!r}; allowed: a file name ending in .html")
    if p.is_dir():
        raise InputError(field, f"{raw} is a directory; give a file name ending in .html")
    anc = p.parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise InputError(field, f"{anc} is not a directory, so {raw} cannot be written")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise InputError(field, f"{anc} is not writable")
    return p


def write_report(path: str | os.PathLike, text: str, field: str = "--report") -> Path:
    """Write ``text`` to ``path`` atomically (a temporary file in the same directory, then
    os.replace), creating missing parent directories; on failure nothing is left behind and
    an OSError becomes :class:`InputError` (CLI exit 2)."""
    target = Path(path)
    created: list[Path] = []
    try:
        make_parents(target.parent, created)
        with atomic_file(target) as fh:
            fh.write(text.encode("utf-8"))
    except BaseException as e:
        remove_dirs(created)
        if isinstance(e, OSError):
            raise InputError(field, f"cannot write {target}: {e.strerror or e}") from None
        raise
    return target


# --------------------------------------------------------------------------- formatting helpers


def _fmt(x: object) -> str:
    return fmt(x)


def _esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def _cell(x: object, *, none: str = "n/a") -> str:
    """A table cell: formatted value, the exact value on hover."""
    if x is None:
        return f'<td class="num">{_esc(none)}</td>'
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return f'<td class="num" title="{_esc(repr(x))}">{_esc(_fmt(x))}</td>'
    if isinstance(x, (list, tuple)):
        x = ", ".join(_fmt(v) for v in x)
    elif isinstance(x, dict):
        x = ", ".join(f"{k}: {_fmt(v)}" for k, v in x.items()) or "—"
    return f"<td>{_esc(_fmt(x))}</td>"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def _td(x: object) -> str:
    return f"<td>{_esc(x)}</td>"


def _summary_unit(data: ReportData, key: str) -> str:
    if data.kind == "backtest":
        return backtest_units(data.summaries()[data.policies[0]], data.price_unit, data.qty_unit).get(key, "")
    u = unit(SUMMARY_UNITS, key, data.time_unit)
    return u or (PNL_UNIT if key in ATTRIBUTION_KEYS else "")


def _per(qty_unit: str) -> str:
    return per_unit(qty_unit)


def _level_text(v: float) -> str:
    return f"{v:g}"


# --------------------------------------------------------------------------- sections: tables


def _config_section(data: ReportData) -> str:
    cfg = data.config
    run_rows = []
    if data.kind == "backtest":
        opts, meta = data.result["options"], data.result["data"]
        run_rows += [
            [_td("policy"), _cell(cfg["policy"]), _td("")],
            [_td("preset"), _cell(cfg["preset"]), _td("")],
            [_td("instrument"), _cell(meta.get("instrument")), _td("")],
            [_td("source"), _cell(meta.get("source")), _td("")],
            [_td("files"), _cell(meta.get("files")), _td("")],
            [_td("tick_size"), _cell(meta.get("tick_size")), _td(data.price_unit)],
            [_td("lot_size"), _cell(meta.get("lot_size")), _td(data.qty_unit)],
            [_td("book levels"), _cell(meta.get("levels")), _td("levels")],
            [_td("skipped rows"), _cell(meta.get("skipped") or "none"), _td("rows")],
            [_td("start"), _cell(_utc(data.start_ns)), _td("UTC")],
            [_td("end"), _cell(_utc(data.end_ns)), _td("UTC")],
            [_td("feed latency"), _cell(opts.get("feed_latency")), _td("ms")],
            [_td("order latency"), _cell(opts.get("order_latency")), _td("ms")],
            [_td("queue model"), _cell(opts.get("queue")), _td("")],
            [_td("min_requote_ms"), _cell(opts.get("min_requote_ms")), _td("ms")],
            [_td("refresh_ticks"), _cell(opts.get("refresh_ticks")), _td("ticks")],
            [_td("seed"), _cell(opts.get("seed", cfg.get("seed"))), _td("latency and queue draws")],
        ]
    else:
        pol_key = "policies" if data.kind == "compare" else "policy"
        pre = _preset_of(cfg)
        run_rows += [
            [_td("preset"), _cell(cfg.get("preset")), _td(pre.description if pre is not None else "")],
            [_td(pol_key), _cell(cfg.get(pol_key)), _td("")],
            [_td("paths"), _cell(cfg.get("paths")), _td("Monte Carlo paths")],
            [_td("seed"), _cell(cfg.get("seed")), _td("same seed ⇒ same random numbers for every policy")],
            [_td("steps"), _cell(cfg.get("steps")), _td("steps per path (T/dt)")],
            [_td("time unit"), _cell(data.time_unit), _td("")],
        ]
    shown, baseline = _shown_params(data)
    preset_name = cfg.get("preset")
    what = (
        "the parameters this replay reads (the policy's, the controls', fees and financing; the tape is the "
        "market, so the simulator's market model and hedge execution do not apply)"
        if data.kind == "backtest"
        else "the parameters the policies and the market model read, every feature that is switched on "
        "(a parameter away from its registry default) and everything set differently from the preset"
    )
    note = (
        f"Shown: {what}. <b>Bold</b>: differs from preset {_esc(preset_name)}"
        + (" (values derived from the data count as differing)" if data.kind == "backtest" else "")
        + ". "
        + (
            "In this backtest 1 price unit = 1 "
            + _esc(data.price_unit)
            + ", 1 lot = 1 "
            + _esc(data.qty_unit)
            + " and 1 time unit = 1 s."
            if data.kind == "backtest"
            else "Prices are in price units, inventory in lots, time in time units (here: "
            + _esc(data.time_unit)
            + ")."
        )
    )
    return (
        '<details id="config"><summary><h2>Configuration and parameters</h2> '
        f'<span class="note">({len(shown)} of {len(data.params)} parameters shown; click to show or hide)'
        "</span></summary>\n"
        + _table(("field", "value", "unit / meaning"), run_rows, "kv")
        + f'\n<h3>Parameters</h3><p class="note">{note}</p>\n'
        + _params_table(data.params, shown, baseline, f"preset {preset_name}")
        + "</details>"
    )


def _params_table(params: Mapping, shown: Sequence[str], baseline: Mapping, base_label: str) -> str:
    """The ``shown`` parameters in registry order (run, policy, market, controls, hedging,
    costs) with value, unit, the baseline's value and meaning; bold where they differ."""
    groups = ("run", "policy", "market", "controls", "hedging", "costs")
    order = sorted(
        shown,
        key=lambda k: (
            groups.index(PARAMS[k].group) if k in PARAMS and PARAMS[k].group in groups else len(groups),
            list(PARAMS).index(k) if k in PARAMS else 0,
        ),
    )
    rows = []
    for k in order:
        v = params[k]
        spec = PARAMS.get(k)
        base = baseline.get(k, spec.default if spec is not None else None)
        cls = ' class="changed"' if not _same_value(v, base) else ""
        rows.append(
            [
                f"<td{cls}>{_esc(k)}</td>",
                _cell("inf" if v is None else v),
                _td(spec.unit if spec else ""),
                _td("" if base is None and spec is None else _fmt(base)),
                _td(spec.doc if spec else ""),
            ]
        )
    return _table(("parameter", "value", "unit", base_label, "meaning"), rows, "params")


#: What every simulation reads besides its policy's parameters: the grid and the market model's core.
SIM_PARAMS = ("T", "dt", "s0", "q0", "sigma", "mid_model", "flow", "A", "k", "size", "limit")


def _same_value(a, b) -> bool:
    """Parameter values equal (None in JSON is an infinite limit)."""
    a = math.inf if a is None else a
    b = math.inf if b is None else b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def _preset_of(cfg: Mapping[str, Any]) -> Preset | None:
    """The run config's preset, or None when it names none or an unknown one (an older results directory)."""
    name = cfg.get("preset")
    return PRESETS.get(name) if isinstance(name, str) else None


def _preset_values(data: ReportData) -> dict:
    """The preset's values for this run's policies (registry defaults, the preset's values and what
    the preset derives); {} when the preset or policy is unknown (an older results directory)."""
    cfg = data.config
    pols = cfg.get("policies") or [cfg.get("policy")]
    preset = cfg.get("preset")
    if not isinstance(preset, str):  # (no preset recorded: unknown)
        return {}
    try:
        return dict(build_config(preset, pols[0], {}, paths=1).values)
    except InputError:
        return {}


def _shown_params(data: ReportData) -> tuple[list[str], dict]:
    """(the parameters the report lists, the preset's values). A backtest lists what the replay
    reads (its policy's parameters and :data:`REPLAY_PARAMS`); a simulation what its policies and
    market model read (:data:`SIM_PARAMS`), every non-policy parameter away from its registry
    default (a feature turned on) and every parameter that differs from the preset."""
    cfg = data.config
    baseline = _preset_values(data)
    return _shown_keys(
        cfg.get("policies") or [cfg.get("policy")], data.params, baseline, replay=data.kind == "backtest"
    ), baseline


def _shown_keys(
    policies: Sequence[str],
    params: Mapping,
    baseline: Mapping,
    *,
    replay: bool = False,
    core: Sequence[str] = SIM_PARAMS,
    reads: Collection[str] | None = None,
) -> list[str]:
    """The rule of :func:`_shown_params` for one parameter set read by ``policies``: a replay shows
    the policies' parameters and :data:`REPLAY_PARAMS`; a simulation the policies' parameters,
    ``core``, and every parameter switched on or changed from ``baseline``, of those the engine
    ``reads`` (None: all)."""
    used = {k for p in policies if p in POLICIES for k in POLICIES[p].params}
    if replay:
        used |= set(REPLAY_PARAMS)
    else:
        used |= set(core)
        # away from the registry default: a feature the preset or user turned on (jumps, zones, hedging, …);
        # policy parameters only count for the policies that read them
        used |= {
            k
            for k, v in params.items()
            if k in PARAMS
            and PARAMS[k].group != "policy"
            and not _same_value(v, PARAMS[k].default)
            and (reads is None or k in reads)
        }
        used |= {
            k
            for k, v in params.items()
            if k in baseline and not _same_value(v, baseline[k]) and (reads is None or k in reads)
        }
    return [k for k in params if k in used]


def _panels_subject(data: ReportData) -> str:
    """What the six panels show: a backtest's one replay (instrument, file, dates), or path 0."""
    if data.kind != "backtest":
        return "sample path 0 of every policy" if data.kind == "compare" else "sample path 0"
    files = ", ".join(Path(f).name for f in data.result["data"].get("files") or [])
    return (
        f"the replay of {data.result['data'].get('instrument')} from {files}, "
        f"{_utc(data.start_ns)} → {_utc(data.end_ns)} UTC"
    )


def _warnings(data: ReportData) -> list[str]:
    out: list[str] = []
    for s in data.summaries().values():
        out += [str(w) for w in s.get("warnings") or () if str(w) not in out]
    out += [str(w) for w in data.result.get("warnings") or () if str(w) not in out]
    return out


def _warnings_section(data: ReportData) -> str:
    items = _warnings(data)
    if not items:
        return ""
    return (
        '<section id="warnings" class="warnings"><h2>Warnings</h2><ul>'
        + "".join(f"<li>{_esc(w)}</li>" for w in items)
        + "</ul></section>"
    )


#: Summary entries that are not metrics: shown elsewhere (warnings at the top, wall-clock time in a note).
NON_METRICS = ("warnings", "timing")


def _summary_section(data: ReportData) -> str:
    sums = data.summaries()
    pols = list(sums)
    keys: list[str] = []
    for s in sums.values():
        keys += [k for k in s if k not in keys and k not in NON_METRICS]
    if len(pols) == 1:
        s = sums[pols[0]]
        rows = [[_td(k), _cell(s.get(k)), _td(_summary_unit(data, k))] for k in keys]
        table = _table(("metric", "value", "unit"), rows, "summary")
    else:
        rows = [[_td(k), *(_cell(sums[p].get(k)) for p in pols), _td(_summary_unit(data, k))] for k in keys]
        table = _table(("metric", *pols, "unit"), rows, "summary")
    what = (
        "Per-policy metrics over all paths, side by side (identical order flow)."
        if data.kind == "compare"
        else "Metrics over all paths."
        if data.kind == "simulate"
        else "Metrics of the replay."
    )
    timing = {p: tm for p in pols if isinstance(tm := sums[p].get("timing"), Mapping)}
    took = "; ".join(
        f"{p + ': ' if len(timing) > 1 else ''}{_fmt(t.get('elapsed_s'))} s"
        for p, t in timing.items()
        if t.get("elapsed_s") is not None
    )
    took = f'<p class="note">Wall-clock time (not part of the results): {_esc(took)}.</p>' if took else ""
    return (
        f'<section id="summary"><h2>Summary</h2><p class="note">{what} Hover a value for its exact number.</p>\n'
        f"{table}{took}</section>"
    )


def _utc(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


# --------------------------------------------------------------------------- charts


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[j : j + 2], 16) for j in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _fig_html(fig, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOT_CONFIG)


def _finite(x: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    ok = np.isfinite(x) if w is None else np.isfinite(x) & np.isfinite(w)
    return x[ok], None if w is None else w[ok]


def _hist_bars(samples: Sequence[tuple[np.ndarray, np.ndarray | None]]) -> tuple[np.ndarray, list[np.ndarray], float]:
    """Common bars for several samples (x, weights or None): (centres, heights per sample,
    bar width). One bar per level when the levels lie on a grid of at most HIST_MAX_LEVELS
    steps (integer lots), else ~√n equal bins."""
    clean = [_finite(np.asarray(x, float), w) for x, w in samples]
    pooled = np.concatenate([x for x, _ in clean]) if clean else np.zeros(0)
    if not pooled.size:
        return np.zeros(0), [np.zeros(0) for _ in clean], 1.0
    levels = np.unique(pooled)
    step = float(np.diff(levels).min()) if levels.size > 1 else 1.0
    if levels.size <= HIST_MAX_LEVELS and (levels[-1] - levels[0]) / step <= HIST_MAX_LEVELS:
        heights = [
            np.bincount(np.searchsorted(levels, x), weights=w, minlength=levels.size).astype(float) for x, w in clean
        ]
        return levels, heights, step
    edges = np.histogram_bin_edges(pooled, bins=int(np.clip(np.sqrt(pooled.size), 10, 80)))
    heights = [np.histogram(x, bins=edges, weights=w)[0].astype(float) for x, w in clean]
    return 0.5 * (edges[1:] + edges[:-1]), heights, float(edges[1] - edges[0])


def _span(a: np.ndarray) -> tuple[float, float]:
    f = a[np.isfinite(a)]
    return (float(f.min()), float(f.max())) if f.size else (0.0, 1.0)


def _level_traces(
    go,
    lv: Mapping[str, float],
    x0: float,
    x1: float,
    legend: str,
    *,
    vertical: bool = False,
    y0: float = 0.0,
    y1: float = 1.0,
    unit: str = "lots",
) -> list:
    """±level reference lines (hard limit, zones) as legend-bearing traces."""
    out = []
    for name, (label, colour, dash, width) in LEVEL_STYLE.items():
        v = lv[name]
        if not math.isfinite(v):
            continue
        v = abs(v)
        if vertical:
            xs, ys = [v, v, None, -v, -v], [y0, y1, None, y0, y1]
        else:
            xs, ys = [x0, x1, None, x0, x1], [v, v, None, -v, -v]
        out.append(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=f"{label} ±{_level_text(v)} {unit}",
                legend=legend,
                line=dict(color=colour, dash=dash, width=width),
                hoverinfo="name",
            )
        )
    return out


def _outline(go, centres: np.ndarray, width: float, h: np.ndarray, name: str, colour: str, hover: str):
    """A histogram drawn as its lightly filled outline over shared bins (several stay visible): bar i
    is the segment (c_i − w/2, h_i) → (c_i + w/2, h_i), joined by verticals, from 0 back to 0; levels
    missing between the centres (no path ended there) are drawn at 0."""
    if not centres.size:
        return go.Scatter(x=[], y=[], mode="lines", name=name, line=dict(color=colour, width=1.6))
    idx = np.rint((centres - centres[0]) / width).astype(np.int64)
    full = np.zeros(int(idx[-1]) + 1)
    full[idx] = h
    edges = centres[0] - width / 2 + width * np.arange(full.size + 1)
    xs = np.repeat(edges, 2)
    ys = np.concatenate([[0.0], np.repeat(full, 2), [0.0]])
    return go.Scatter(
        x=xs,
        y=ys,
        mode="lines",
        name=name,
        fill="tozeroy",
        line=dict(color=colour, width=1.6),
        fillcolor=_rgba(colour, 0.12),
        hovertemplate=hover,
    )


def _six_panel(data: ReportData) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    bt = data.kind == "backtest"
    pols = data.policies
    multi = len(pols) > 1
    pu, qu, tl = data.price_unit, data.qty_unit, f"time ({data.time_unit})"
    if bt:
        hist_title = "Inventory distribution over time (time-weighted)"
    else:
        n = max(v.size for v in data.hist.values())
        hist_title = f"Final inventory over {n:,} paths"
    model = six_panel_model(  # the figure model the matplotlib six-panel draws too
        time_unit=data.time_unit,
        price_unit=pu,
        qty_unit=qu,
        pnl_unit=data.pnl_unit,
        hist_title=hist_title,
        hist_ylabel="time at level (s)" if bt else "number of paths",
        fills=bt,
    )
    fig = make_subplots(rows=3, cols=2, subplot_titles=model.titles, horizontal_spacing=HSPACE, vertical_spacing=0.085)
    lg = {i: "legend" if i == 1 else f"legend{i}" for i in range(1, 7)}
    rc = {i: (p.row, p.col) for i, p in enumerate(model.panels, start=1)}

    def add(i: int, trace) -> None:
        trace.legend = lg[i]
        fig.add_trace(trace, row=rc[i][0], col=rc[i][1])

    def nm(pol: str, what: str) -> str:
        return f"{pol} {what}" if multi else what

    lv = data.levels()
    q_target = data.level("q_target") if data.params.get("q_target") is not None else 0.0
    qt_fit = q_target if math.isfinite(q_target) else 0.0
    t_lo, t_hi = math.inf, -math.inf
    mids = [data.series[p]["mid"] for p in pols]
    same_mid = all(np.array_equal(m, mids[0], equal_nan=True) for m in mids)
    hidden = any(quotes_hidden(data.series[p]["mid"], data.series[p]["bid"], data.series[p]["ask"]) for p in pols)
    tick = (data.result["data"].get("tick_size") if bt else None) or data.params.get("tick") or 0.0
    d_scale, d_unit = (float(tick), "ticks") if tick and math.isfinite(tick) and tick > 0 else (1.0, pu)
    hover_t = f"t = %{{x:.6g}} {data.time_unit}"
    fits: list[tuple[str, StollFit | None]] = []
    y_ranges: dict[int, list[np.ndarray]] = {1: [], 3: [], 4: [], 5: []}
    depths: list[np.ndarray] = []
    for i, pol in enumerate(pols):
        s = data.series[pol]
        t = s["t"]
        lo, hi = _span(t)
        t_lo, t_hi = min(t_lo, lo), max(t_hi, hi)
        c_bid, c_ask = (_colour(i), _colour(i)) if multi else ("#1f77b4", "#ff7f0e")
        add(
            1,
            go.Scatter(
                x=t,
                y=s["bid"],
                mode="lines",
                name=nm(pol, "bid" if multi else "our bid"),
                line=dict(color=c_bid, width=1),
                legendgroup=pol if multi else None,
                hovertemplate=f"{hover_t}<br>bid = %{{y:.8g}} {pu}<extra>{_esc(pol)}</extra>",
            ),
        )
        add(
            1,
            go.Scatter(
                x=t,
                y=s["ask"],
                mode="lines",
                name=nm(pol, "ask" if multi else "our ask"),
                line=dict(color=c_ask, width=1, dash="dot" if multi else None),
                legendgroup=pol if multi else None,
                hovertemplate=f"{hover_t}<br>ask = %{{y:.8g}} {pu}<extra>{_esc(pol)}</extra>",
            ),
        )
        if not same_mid or i == 0:
            add(
                1,
                go.Scatter(
                    x=t,
                    y=s["mid"],
                    mode="lines",
                    name="mid" if same_mid else nm(pol, "mid"),
                    line=dict(color="black", width=1.3),
                    hovertemplate=f"{hover_t}<br>mid = %{{y:.8g}} {pu}<extra></extra>",
                ),
            )
        y_ranges[1] += [s["mid"], s["bid"], s["ask"]]
        if hidden:
            for what, y, col, dash in (
                ("ask − mid", s["ask"] - s["mid"], c_ask, "dot" if multi else None),
                ("bid − mid", s["bid"] - s["mid"], c_bid, None),
            ):
                depths.append(y)
                fig.add_trace(
                    go.Scatter(
                        x=t,
                        y=y / d_scale,
                        mode="lines",
                        name=nm(pol, what),
                        legend=lg[1],
                        xaxis=DEPTH_X,
                        yaxis=DEPTH_Y,
                        legendgroup=pol if multi else None,
                        line=dict(color=col, width=1, dash=dash),
                        hovertemplate=f"{hover_t}<br>{what} = %{{y:.6g}} {d_unit}<extra>{_esc(pol)}</extra>",
                    )
                )
        col = _colour(i) if multi else "#1f77b4"
        add(
            2,
            go.Scatter(
                x=t,
                y=s["q"],
                mode="lines",
                line_shape="hv",
                name=pol if multi else "inventory q",
                line=dict(color=col, width=1.4),
                hovertemplate=f"{hover_t}<br>q = %{{y:.6g}} {qu}<extra>{_esc(pol)}</extra>",
            ),
        )
        spread = s["ask"] - s["bid"]
        y_ranges[3].append(spread)
        add(
            3,
            go.Scatter(
                x=t,
                y=spread,
                mode="lines",
                name=pol if multi else "ask − bid",
                line=dict(color=_colour(i) if multi else "#9467bd", width=1),
                hovertemplate=f"{hover_t}<br>spread = %{{y:.6g}} {pu}<extra>{_esc(pol)}</extra>",
            ),
        )
        ok = np.isfinite(s["q"]) & np.isfinite(spread)
        qs, ss = s["q"][ok], spread[ok]
        y_ranges[4].append(ss)
        label = nm(pol, "quotes")
        agg = repeated_points(qs, ss)
        marker = dict(color=_colour(i) if multi else "#9467bd", size=6, opacity=0.35)
        hover = f"q = %{{x:.6g}} {qu}<br>spread = %{{y:.6g}} {pu}"
        custom = None
        if agg is not None:
            qs_show, ss_show, counts = agg
            label += " (area ∝ count)"
            marker.update(size=np.sqrt(counts / counts.max()) * 22 + 3, opacity=0.5, sizemode="diameter")
            custom, hover = counts, hover + "<br>%{customdata} quotes"
        elif qs.size > MAX_SCATTER_POINTS:
            keep = np.sort(np.random.default_rng(0).choice(qs.size, MAX_SCATTER_POINTS, replace=False))
            label += f" ({MAX_SCATTER_POINTS:,} of {qs.size:,})"
            qs_show, ss_show = qs[keep], ss[keep]
        else:
            qs_show, ss_show = qs, ss
        add(
            4,
            go.Scatter(
                x=qs_show,
                y=ss_show,
                mode="markers",
                name=label,
                marker=marker,
                customdata=custom,
                legendgroup=f"{pol}-stoll",
                hovertemplate=f"{hover}<extra>{_esc(pol)}</extra>",
            ),
        )
        fit = stoll_regression(s["q"], spread, t, qt_fit)
        fits.append((pol, fit))
        if fit is not None:
            xs = np.unique(np.clip([qs.min(), qt_fit, qs.max()], qs.min(), qs.max()))
            est = estimate_text(fit.b, fit.se, fit.level)
            add(
                4,
                go.Scatter(
                    x=xs,
                    y=fit.at(xs, qt_fit),
                    mode="lines",
                    legendgroup=f"{pol}-stoll",
                    name=nm(pol, f"fit: b = {est}"),
                    line=dict(color=_colour(i) if multi else "red", dash="dash", width=2),
                    hovertemplate=(
                        f"spread = level + b·(|q − q*| − mean), time controlled<br>"
                        f"b = {est} {pu} per {_per(qu)} of |q − q*|<extra>{_esc(pol)}</extra>"
                    ),
                ),
            )
        y_ranges[5].append(s["pnl"])
        add(
            5,
            go.Scatter(
                x=t,
                y=s["pnl"],
                mode="lines",
                name=pol if multi else "PnL (marked to mid)",
                line=dict(color=_colour(i) if multi else "#2ca02c", width=1.4),
                hovertemplate=f"{hover_t}<br>PnL = %{{y:.6g}} {data.pnl_unit}<extra>{_esc(pol)}</extra>",
            ),
        )
    # reference lines: inventory limits/zones/target, zero PnL
    for tr in _level_traces(go, lv, t_lo, t_hi, lg[2], unit=qu):
        add(2, tr)
    if math.isfinite(q_target):
        add(
            2,
            go.Scatter(
                x=[t_lo, t_hi],
                y=[q_target, q_target],
                mode="lines",
                name=f"target q* = {q_target:g} {qu}",
                line=dict(color="green", dash="dot", width=1.6),
                hoverinfo="name",
            ),
        )
    add(
        5,
        go.Scatter(
            x=[t_lo, t_hi],
            y=[0, 0],
            mode="lines",
            name="zero",
            showlegend=False,
            line=dict(color="grey", dash="dash", width=0.8),
            hoverinfo="skip",
        ),
    )
    if bt and data.fills is not None and data.fills["t"].size:
        f = data.fills
        n_total = data.fills_total or f["t"].size
        mk = sorted((k for k in f if k.startswith("markout_")), key=lambda k: float(k[8:-1]))
        for side, label, sym, colour in (
            (1, "our buys (at bid)", "triangle-up", "green"),
            (-1, "our sells (at ask)", "triangle-down", "red"),
        ):
            m = f["side"] == side
            if not m.any():
                continue
            extra = "" if f["t"].size == n_total else f" ({f['t'].size:,} of {n_total:,})"
            custom = np.column_stack(
                [f["qty"][m], f["q"][m] if "q" in f else np.full(m.sum(), np.nan), *(f[k][m] for k in mk[:1])]
            )
            mk_txt = f"<br>markout {mk[0][8:]} = %{{customdata[2]:.6g}} {pu}/{qu}" if mk else ""
            add(
                1,
                go.Scatter(
                    x=f["t"][m],
                    y=f["px"][m],
                    mode="markers",
                    name=label + extra,
                    marker=dict(symbol=sym, color=colour, size=7, line=dict(width=0.5, color="black")),
                    customdata=custom,
                    hovertemplate=(
                        f"{hover_t}<br>price = %{{y:.8g}} {pu}<br>qty = %{{customdata[0]:.6g}} {qu}"
                        f"<br>q after = %{{customdata[1]:.6g}} {qu}{mk_txt}<extra>fill</extra>"
                    ),
                ),
            )
    # panel 6: inventory histogram, bins shared by every policy
    ymax = 0.0
    means = []
    centres, heights, width = _hist_bars([(data.hist[p], data.hist_weights.get(p)) for p in pols])
    unit_y = "s" if bt else "paths"
    for i, pol in enumerate(pols):
        h = heights[i]
        ymax = max(ymax, float(h.max()) if h.size else 0.0)
        hover = f"q = %{{x:.6g}} {qu}<br>%{{y:.6g}} {unit_y}<extra>{_esc(pol)}</extra>"
        if multi:  # outlines over shared bins, lightly filled: every policy stays visible
            add(6, _outline(go, centres, width, h, pol, _colour(i), hover))
        else:
            add(
                6,
                go.Bar(
                    x=centres,
                    y=h,
                    width=0.85 * width,
                    name="time at level" if bt else "final q",
                    marker=dict(color="#1f77b4", line=dict(width=0.5, color="black")),
                    opacity=0.75,
                    hovertemplate=hover,
                ),
            )
        x, w = _finite(np.asarray(data.hist[pol], float), data.hist_weights.get(pol))
        if x.size and (w is None or w.sum() > 0):
            means.append((i, pol, float(np.average(x, weights=w))))
    ytop = ymax * 1.05 if ymax > 0 else 1.0
    for i, pol, mean in means:
        add(
            6,
            go.Scatter(
                x=[mean, mean],
                y=[0, ytop],
                mode="lines",
                name=nm(pol, f"mean = {mean:.3g} {qu}"),
                line=dict(color=_colour(i) if multi else "red", dash="dash", width=2),
                hoverinfo="name",
            ),
        )
    if math.isfinite(q_target):
        add(
            6,
            go.Scatter(
                x=[q_target, q_target],
                y=[0, ytop],
                mode="lines",
                name=f"target = {q_target:g} {qu}",
                line=dict(color="green", dash="dot", width=2),
                hoverinfo="name",
            ),
        )
    if limit_off_axis(lv["limit"], *(data.hist[p] for p in pols)):
        add(
            6,
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                name=f"hard limit ±{_level_text(abs(lv['limit']))} {qu} (off axis)",
                line=dict(color="red", dash="dash", width=2),
                hoverinfo="skip",
            ),
        )
    else:
        for tr in _level_traces(
            go,
            {"limit": lv["limit"], "yellow": math.inf, "red": math.inf, "critical": math.inf},
            0,
            0,
            lg[6],
            vertical=True,
            y0=0,
            y1=ytop,
            unit=qu,
        ):
            add(6, tr)
    # axes (units everywhere; never zoomed into float noise)
    for i, panel in enumerate(model.panels, start=1):
        xt, yt = ("" if (i == 1 and hidden) else panel.xlabel), panel.ylabel
        fig.update_xaxes(title_text=xt, row=rc[i][0], col=rc[i][1], showgrid=True)
        fig.update_yaxes(title_text=yt, row=rc[i][0], col=rc[i][1], showgrid=True, exponentformat="none")
        rng = display_range(*y_ranges[i]) if i in y_ranges else None
        if rng is not None:
            fig.update_yaxes(range=list(rng), row=rc[i][0], col=rc[i][1])
    for ax in ("xaxis2", "xaxis3", "xaxis5"):  # the time panels zoom together
        fig.layout[ax].matches = "x"
    layout: dict = {}
    if hidden:  # panel 1 split: prices above, our quotes' distance from the mid below
        y0, y1 = fig.layout.yaxis.domain
        fig.layout.yaxis.domain = (y0 + 0.42 * (y1 - y0), y1)
        fig.layout.xaxis.showticklabels = False
        clip = depth_clip(*depths)
        if clip is not None:  # a few stale quotes far from the mid would flatten the rest: say where the axis ends
            fig.add_trace(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="lines",
                    legend=lg[1],
                    xaxis=DEPTH_X,
                    yaxis=DEPTH_Y,
                    name=f"depth axis cut at ±{clip / d_scale:.3g}",
                    hoverinfo="skip",
                    line=dict(color="rgba(0,0,0,0)"),
                )
            )
        layout["xaxis7"] = dict(
            domain=fig.layout.xaxis.domain, anchor=DEPTH_Y, matches="x", title_text=tl, showgrid=True
        )
        layout["yaxis7"] = dict(
            domain=(y0, y0 + 0.36 * (y1 - y0)),
            anchor=DEPTH_X,
            showgrid=True,
            zeroline=True,
            zerolinecolor="black",
            exponentformat="none",
            title_text=f"from mid ({d_unit})",
            **({"range": [-clip / d_scale, clip / d_scale]} if clip is not None else {}),
        )
    for i in range(1, 7):
        xa = fig.layout["xaxis" if i == 1 else f"xaxis{i}"]
        ya = fig.layout["yaxis" if i == 1 else f"yaxis{i}"]
        top = ya.domain[1]
        layout[lg[i]] = dict(
            x=xa.domain[1] + 0.006,
            y=top,
            xanchor="left",
            yanchor="top",
            font=dict(size=10),
            bgcolor="rgba(255,255,255,0.85)",
            tracegroupgap=2,
            groupclick="toggleitem",
        )
    fig.update_layout(
        height=1200,
        margin=dict(l=70, r=RIGHT_MARGIN, t=60, b=60),
        template="plotly_white",
        bargap=0.1,
        hovermode="closest",
        **layout,
    )
    note = _stoll_note(data, fits)
    return _fig_html(fig, "fb-six-panel") + note


def _stoll_note(data: ReportData, fits: Sequence[tuple[str, StollFit | None]]) -> str:
    """The Stoll regression's slopes, with standard errors and the model, under the figure."""
    parts = [
        f"{_esc(pol)}: b = {_esc(estimate_text(f.b, f.se, f.level))}"
        if f is not None
        else f"{_esc(pol)}: no fit (fewer than 3 two-sided quotes, or q never moved)"
        for pol, f in fits
    ]
    return (
        '<p class="note" id="stoll-note">Stoll regression (panel 4): spread = α<sub>time bucket</sub> + '
        f"b·|q − q*| + c·t + ε, fitted on every two-sided quote; b in {_esc(data.price_unit)} per "
        f"{_esc(_per(data.qty_unit))} of |q − q*| ± its standard error, clustered by time bucket. Time is held "
        "fixed because along a path q and time are correlated (the finite-horizon A–S spread narrows as "
        "τ = T − t falls); a spread that does not depend on inventory gives b ≈ 0. " + "; ".join(parts) + ".</p>"
    )


def _zone_section(data: ReportData) -> str:
    lv = data.levels()
    configured = any(math.isfinite(lv[k]) for k in ZONE_LEVELS)
    present = any(np.nanmax(s["zone"], initial=0.0) > 0 for s in data.series.values() if s["zone"].size)
    if not (configured or present):
        return ""
    import plotly.graph_objects as go

    pols = data.policies
    multi = len(pols) > 1
    fig = go.Figure()
    for code in (1, 2, 3):
        fig.add_hrect(
            y0=code - 0.5, y1=code + 0.5, fillcolor=ZONE_COLOURS[code], opacity=0.12, line_width=0, layer="below"
        )
    for i, pol in enumerate(pols):
        s = data.series[pol]
        off = (i - (len(pols) - 1) / 2) * 0.08 if multi else 0.0
        fig.add_trace(
            go.Scatter(
                x=s["t"],
                y=s["zone"] + off,
                mode="lines",
                line_shape="hv",
                name=pol,
                line=dict(color=_colour(i) if multi else "#1f77b4", width=1.8),
                customdata=s["zone"] if multi else None,
                hovertemplate=(
                    f"t = %{{x:.6g}} {data.time_unit}<br>zone "
                    + ("%{customdata:.0f}" if multi else "%{y:.0f}")
                    + f"<extra>{_esc(pol)}</extra>"
                ),
            )
        )
    ticks = [ZONE_NAMES[0]] + [
        f"{n} (|q| ≥ {_level_text(lv[n])} {data.qty_unit})" if math.isfinite(lv[n]) else f"{n} (off)"
        for n in ZONE_LEVELS
    ]
    fig.update_yaxes(title_text="soft zone", tickvals=[0, 1, 2, 3], ticktext=ticks, range=[-0.5, 3.5])
    fig.update_xaxes(title_text=f"time ({data.time_unit})")
    fig.update_layout(
        height=330,
        template="plotly_white",
        margin=dict(l=70, r=230, t=30, b=50),
        legend=dict(x=1.01, y=1, xanchor="left"),
        showlegend=True,
    )
    sums = data.summaries()
    rows = [
        [
            _td(p),
            *(_cell(sums[p].get(f"time_in_{z}_frac")) for z in ZONE_LEVELS),
            _cell(sums[p].get("time_at_limit_frac")),
        ]
        for p in pols
    ]
    table = _table(("policy", "yellow", "red", "critical", "at the hard limit"), rows, "summary")
    unit_note = "fraction of time" if data.kind == "backtest" else "fraction of steps over all paths"
    return (
        '<section id="zones"><h2>Zone timeline</h2><p class="note">The soft zone of '
        + ("the replay's inventory" if data.kind == "backtest" else "sample path 0")
        + " over time: the highest threshold |q| reaches (0 none, 1 yellow, 2 red, 3 critical)"
        + (", computed from the inventory path and the thresholds" if data.kind == "backtest" else "")
        + f". Time in each zone ({unit_note}):</p>\n"
        + table
        + "\n"
        + _fig_html(fig, "fb-zones")
        + "</section>"
    )


def _attribution_section(data: ReportData) -> str:
    sums = data.summaries()
    keys = [k for k in ATTRIBUTION_KEYS if any(s.get(k) is not None for s in sums.values())]
    if not keys:
        return ""
    import plotly.graph_objects as go

    labels = [k.removeprefix("pnl_") for k in keys]
    pols = data.policies
    total_key = "pnl_final" if data.kind == "backtest" else "pnl_mean"
    per = "" if data.kind == "backtest" else ", mean per path"
    if len(pols) == 1:
        s = sums[pols[0]]
        vals = [s.get(k) or 0.0 for k in keys]
        fig = go.Figure(
            go.Waterfall(
                x=labels + ["total"],
                y=vals + [None],
                measure=["relative"] * len(keys) + ["total"],
                text=[f"{v:.4g}" for v in vals] + [f"{sum(vals):.4g}"],
                textposition="outside",
                increasing=dict(marker=dict(color="#2ca02c")),
                decreasing=dict(marker=dict(color="#d62728")),
                totals=dict(marker=dict(color="#1f77b4")),
                hovertemplate=f"%{{x}}: %{{y:.6g}} {data.pnl_unit}<extra></extra>",
                name=pols[0],
            )
        )
    else:
        fig = go.Figure()
        for i, pol in enumerate(pols):
            vals = [sums[pol].get(k) or 0.0 for k in keys]
            fig.add_trace(
                go.Bar(
                    x=labels + ["total"],
                    y=vals + [sum(vals)],
                    name=pol,
                    marker_color=_colour(i),
                    hovertemplate=f"%{{x}}: %{{y:.6g}} {data.pnl_unit}<extra>{_esc(pol)}</extra>",
                )
            )
        fig.update_layout(barmode="group")
    fig.update_yaxes(title_text=f"PnL ({data.pnl_unit}{per})", zeroline=True, zerolinecolor="grey")
    fig.update_xaxes(title_text="component")
    fig.update_layout(
        height=420, template="plotly_white", margin=dict(l=70, r=230, t=30, b=50), showlegend=len(pols) > 1
    )
    rows = [
        [
            _td(p),
            *(_cell(sums[p].get(k)) for k in keys),
            _cell(sum(sums[p].get(k) or 0.0 for k in keys)),
            _cell(sums[p].get(total_key)),
        ]
        for p in pols
    ]
    table = _table(("policy", *labels, "sum of parts", total_key), rows, "summary")
    return (
        '<section id="attribution"><h2>PnL attribution</h2><p class="note">The PnL split into parts that sum '
        f"to it ({_esc(data.pnl_unit)}{per}): spread capture against the mid, the inventory's mark, adverse "
        "selection (the fills' markout), hedging, financing and fees.</p>\n"
        + table
        + "\n"
        + _fig_html(fig, "fb-attribution")
        + "</section>"
    )


def _compare_section(data: ReportData) -> str:
    if data.kind != "compare":
        return ""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    sums = data.summaries()
    pols = data.policies
    panels = [
        ("pnl_mean", "mean PnL ± 1.96·SE", "pnl_se"),
        ("pnl_std", "std of PnL", None),
        ("final_q_std", "std of final inventory", None),
        ("max_abs_q_mean", "mean max |q|", None),
        ("spread_mean", "mean quoted spread", None),
        ("spread_given_up_mean", "spread given up by skewing", None),
    ]
    panels = [p for p in panels if any(sums[n].get(p[0]) is not None for n in pols)]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[1] for p in panels], horizontal_spacing=0.06)
    for j, (key, _title, err) in enumerate(panels, start=1):
        y = [sums[p].get(key) for p in pols]
        e = [1.96 * (sums[p].get(err) or 0.0) for p in pols] if err else None
        fig.add_trace(
            go.Bar(
                x=pols,
                y=y,
                marker_color=[_colour(i) for i in range(len(pols))],
                showlegend=False,
                error_y=dict(type="data", array=e, visible=True) if e else None,
                hovertemplate=f"%{{x}}: %{{y:.6g}} {_summary_unit(data, key)}<extra>{key}</extra>",
            ),
            row=1,
            col=j,
        )
        fig.update_yaxes(title_text=f"{key} ({_summary_unit(data, key)})", row=1, col=j, title_font=dict(size=10))
    fig.update_layout(height=400, template="plotly_white", margin=dict(l=60, r=30, t=40, b=120))
    return (
        '<section id="compare"><h2>Policies side by side</h2><p class="note">Every policy ran on identical '
        "order flow (same seed, common random numbers); the six panels above overlay their sample path 0. "
        "Error bars: 95% interval of the mean PnL.</p>\n"
        + _differences_table(data)
        + _fig_html(fig, "fb-compare")
        + "</section>"
    )


def _differences_table(data: ReportData) -> str:
    """The run's paired differences against the first policy (``differences`` of the --json
    object), as the CLI prints them: diff ± paired SE [SE if the runs were independent]."""
    diff = data.result.get("differences")
    if not isinstance(diff, Mapping) or not diff.get("policies"):
        return ""
    base, pols = diff["baseline"], diff["policies"]
    keys: list[str] = []
    for rows in pols.values():
        keys += [k for k in rows if k not in keys]
    body = []
    for key in keys:
        cells = []
        for rows in pols.values():
            d = rows.get(key)
            cells.append(
                _td("n/a")
                if d is None
                else f'<td class="num">{_esc(fmt_pm(d.get("diff"), d.get("se")))} '
                f"[{_esc(_fmt(d.get('se_unpaired')))}]</td>"
            )
        body.append([_td(key), *cells, _td(_summary_unit(data, key))])
    return (
        f'<p class="note">Paired differences against {_esc(base)}: difference ± its standard error over '
        "paths paired by index (common random numbers); in brackets the standard error if the runs had been "
        f"independent. {_esc(diff.get('method', ''))}</p>\n"
        + _table(("metric", *(f"{p} − {base}" for p in pols), "unit"), body, "summary")
        + "\n"
    )


def _markout_section(data: ReportData) -> str:
    if data.kind != "backtest" or data.fills is None:
        return ""
    f = data.fills
    mk = sorted((k for k in f if k.startswith("markout_")), key=lambda k: float(k[8:-1]))
    if not mk or not f["t"].size:
        return ""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    pu, qu = data.price_unit, data.qty_unit
    s = data.summaries()[data.policies[0]]
    hs = [k[8:] for k in mk]
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.12,
        subplot_titles=("Quantity-weighted mean markout", "Markout of each fill"),
    )
    for label, m, colour in (
        ("all fills", np.ones(f["t"].size, bool), "#1f77b4"),
        ("our buys", f["side"] > 0, "green"),
        ("our sells", f["side"] < 0, "red"),
    ):
        ys = []
        for k in mk:
            v, w = f[k][m], f["qty"][m]
            ok = np.isfinite(v)
            ys.append(float(np.average(v[ok], weights=w[ok])) if ok.any() and w[ok].sum() > 0 else None)
        fig.add_trace(
            go.Bar(
                x=hs,
                y=ys,
                name=label,
                marker_color=colour,
                legendgroup=label,
                hovertemplate=f"%{{x}}: %{{y:.6g}} {pu} per {_per(qu)}<extra>{label}</extra>",
            ),
            row=1,
            col=1,
        )
    for k, h in zip(mk, hs):
        v = f[k]
        fig.add_trace(
            go.Box(
                y=v[np.isfinite(v)],
                name=h,
                marker_color="#1f77b4",
                showlegend=False,
                boxmean=True,
                hovertemplate=f"%{{y:.6g}} {pu} per {_per(qu)}<extra>{h}</extra>",
            ),
            row=1,
            col=2,
        )
    for c in (1, 2):
        fig.update_xaxes(title_text="markout horizon (s)", row=1, col=c)
        fig.update_yaxes(
            title_text=f"markout ({pu} per {_per(qu)}; > 0 in our favour)",
            row=1,
            col=c,
            zeroline=True,
            zerolinecolor="grey",
        )
    fig.update_layout(height=420, template="plotly_white", barmode="group", margin=dict(l=70, r=30, t=40, b=50))
    rows = [[_td(h), _cell(s.get(k)), _td(f"{pu} per {_per(qu)}")] for k, h in zip(mk, hs)]
    note = (
        f"Markout of a fill: side × (mid h seconds later − fill price), {_esc(pu)} per {_esc(_per(qu))}; positive "
        "means the market moved in our favour. NaN (not shown) past the end of the data."
    )
    return (
        '<section id="markouts"><h2>Fill markouts</h2><p class="note">'
        + note
        + "</p>\n"
        + _table(("horizon", "qty-weighted mean", "unit"), rows, "summary")
        + "\n"
        + _fig_html(fig, "fb-markouts")
        + "</section>"
    )


# --------------------------------------------------------------------------- multi: several instruments


def _multi_unit(data: ReportData, key: str) -> str:
    return multi_unit(key, data.time_unit)


def _multi_summary_section(data: ReportData) -> str:
    s = data.result
    rows = [[_td(k), _cell(s.get(k)), _td(_multi_unit(data, k))] for k in PORTFOLIO_KEYS if k in s]
    per = s.get("per_instrument") or {}
    ins = {str(i.get("name")): i for i in data.config["instruments"]}
    head = (
        "instrument",
        "policy",
        f"σ ({_multi_unit(data, 'sigma')})",
        "s0 (price units)",
        "limit (lots)",
        *(f"{k} ({_multi_unit(data, k)})" for k in INSTRUMENT_COLUMNS),
    )
    irows = []
    for name in data.instruments:
        par = ins[name]["params"]
        irows.append(
            [
                _td(name),
                _td(ins[name].get("policy")),
                _cell(par.get("sigma")),
                _cell(par.get("s0")),
                _cell("inf" if par.get("limit") is None else par.get("limit")),
                *(_cell((per.get(name) or {}).get(k)) for k in INSTRUMENT_COLUMNS),
            ]
        )
    timing = tm if isinstance(tm := s.get("timing"), Mapping) else {}
    took = (
        f'<p class="note">Wall-clock time (not part of the results): {_esc(_fmt(timing["elapsed_s"]))} s.</p>'
        if timing.get("elapsed_s") is not None
        else ""
    )
    return (
        '<section id="summary"><h2>Summary</h2><p class="note">The portfolio over all paths: one cash account, '
        "every position marked at its instrument's mid at T. Hover a value for its exact number.</p>\n"
        + _table(("metric", "value", "unit"), rows, "summary")
        + "\n<h3>Per instrument</h3>\n"
        + '<p class="note">Means over all paths of each instrument\'s final inventory, largest |q| along the '
        "path, fills and spread captured (fills' distance from the mid × size).</p>\n"
        + _table(head, irows, "summary")
        + took
        + "</section>"
    )


def _multi_hist_section(data: ReportData) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = data.instruments
    assert data.per_path is not None  # read with every multi run (_multi_data)
    pnl = data.per_path["pnl"]
    n = pnl.size
    pu = "price units × lots"
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=HSPACE,
        subplot_titles=(f"Final inventory of each instrument over {n:,} paths", f"Portfolio PnL at T over {n:,} paths"),
    )
    # left: every instrument's final q on the same bins
    centres, heights, width = _hist_bars([(data.hist[nm], None) for nm in names])
    ytop = max((float(h.max()) for h in heights if h.size), default=0.0) * 1.05 or 1.0
    for i, nm in enumerate(names):
        hover = f"q = %{{x:.6g}} lots<br>%{{y:.6g}} paths<extra>{_esc(nm)}</extra>"
        fig.add_trace(_outline(go, centres, width, heights[i], nm, _colour(i), hover), row=1, col=1)
        x = data.hist[nm][np.isfinite(data.hist[nm])]
        if x.size:
            mean = float(x.mean())
            fig.add_trace(
                go.Scatter(
                    x=[mean, mean],
                    y=[0, ytop],
                    mode="lines",
                    name=f"{nm} mean = {mean:.3g} lots",
                    line=dict(color=_colour(i), dash="dash", width=2),
                    hoverinfo="name",
                ),
                row=1,
                col=1,
            )
    # right: portfolio PnL with its mean and the 95 % VaR and ES (losses, so drawn at −VaR, −ES)
    pc, (ph,), pw = _hist_bars([(pnl, None)])
    fig.add_trace(
        go.Bar(
            x=pc,
            y=ph,
            width=0.85 * pw,
            name="PnL at T",
            marker=dict(color="#2ca02c"),
            opacity=0.75,
            hovertemplate=f"PnL = %{{x:.6g}} {pu}<br>%{{y:.6g}} paths<extra></extra>",
        ),
        row=1,
        col=2,
    )
    ptop = (float(ph.max()) if ph.size else 0.0) * 1.05 or 1.0
    s = data.result
    marks = [("mean", s.get("pnl_mean"), "black", "dash")]
    marks += [
        (label, -s[k], c, "dot")
        for k, label, c in (
            ("var_95", "5 % quantile (−VaR 95 %)", "#d62728"),
            ("es_95", "mean of the worst 5 % (−ES 95 %)", "darkred"),
        )
        if s.get(k) is not None
    ]
    for label, v, colour, dash in marks:
        if v is not None and math.isfinite(v):
            fig.add_trace(
                go.Scatter(
                    x=[v, v],
                    y=[0, ptop],
                    mode="lines",
                    name=f"{label} = {v:.4g}",
                    line=dict(color=colour, dash=dash, width=2),
                    hoverinfo="name",
                    legend="legend2",
                ),
                row=1,
                col=2,
            )
    for tr in fig.data:  # the right panel's traces go to the right panel's legend
        if tr.xaxis == "x2":
            tr.legend = "legend2"
    fig.update_xaxes(title_text="final inventory q (lots)", row=1, col=1, showgrid=True)
    fig.update_yaxes(title_text="number of paths", row=1, col=1, showgrid=True, exponentformat="none")
    fig.update_xaxes(title_text=f"PnL ({pu})", row=1, col=2, showgrid=True, exponentformat="none")
    fig.update_yaxes(title_text="number of paths", row=1, col=2, showgrid=True, exponentformat="none")
    legends = {}
    for i, lg in ((1, "legend"), (2, "legend2")):
        xa = fig.layout["xaxis" if i == 1 else f"xaxis{i}"]
        legends[lg] = dict(
            x=xa.domain[1] + 0.006,
            y=1,
            xanchor="left",
            yanchor="top",
            font=dict(size=10),
            bgcolor="rgba(255,255,255,0.85)",
            tracegroupgap=2,
        )
    fig.update_layout(
        height=480,
        margin=dict(l=70, r=RIGHT_MARGIN, t=50, b=60),
        template="plotly_white",
        bargap=0.1,
        hovermode="closest",
        **legends,
    )
    return (
        '<section id="distributions"><h2>Final inventories and portfolio PnL</h2><p class="note">Left: each '
        "instrument's inventory at T, on shared bins (one bar per lot level), with its mean. Right: the "
        f"portfolio PnL at T ({_esc(pu)}; the instruments' prices in one currency), its mean, its 5 % quantile "
        "(−VaR 95 %) and the mean of its worst 5 % of paths (−ES 95 %); VaR and ES are losses, so a negative "
        "VaR means even the 5 % quantile is a profit.</p>\n" + _fig_html(fig, "fb-multi-hist") + "</section>"
    )


def _multi_paired_section(data: ReportData) -> str:
    s = data.result
    corr = s.get("final_q_corr")
    rho = data.config.get("correlation")
    corr_txt = (
        f" Here the final inventories correlate at {_fmt(corr)} across paths, the mids at ρ = {_fmt(rho[0][1])}."
        if corr is not None and isinstance(rho, list) and len(rho) == 2
        else ""
    )
    return (
        '<section id="paired"><h2>Random numbers</h2><p class="note">'
        "Every path has its own random stream, which depends only on the seed and the path's index; each "
        "step draws, in a fixed order, one fill number per instrument and the mids' shocks Z. The mids move "
        "together as ΔS = L·Z·√dt with L·Lᵀ = Σ, Σ<sub>ij</sub> = ρ<sub>ij</sub>·σ<sub>i</sub>·σ<sub>j</sub> "
        "(price units² per time unit)." + _esc(corr_txt) + '</p><p class="note">Common random numbers: a '
        "second run with the same seed, instruments and steps (e.g. --own-skew, or another --set of a policy "
        "parameter) draws the same numbers path by path, so its per-path PnL (per_path.parquet, column pnl) "
        "pairs with this run's: the standard error of the difference is std(PnL₂ − PnL₁)/√paths, usually far "
        "below the √(SE₁² + SE₂²) of independent runs. Another --correlation keeps Z but changes L, so the "
        "mids differ.</p></section>"
    )


def _multi_config_section(data: ReportData) -> str:
    cfg = data.config
    ins = cfg["instruments"]
    baselines = _multi_baselines(data)
    rho = np.asarray(cfg.get("correlation") or [[1.0]], dtype=float)
    rho_txt = "; ".join(" ".join(f"{v:g}" for v in row) for row in rho)
    run_rows = [
        [_td("preset"), _cell(cfg.get("preset", "n/a")), _td("multi-instrument preset")],
        [
            _td("instruments"),
            _cell([f"{i.get('name')}: {i.get('policy')} on {i.get('preset')}" for i in ins]),
            _td("name: policy on its single-instrument preset"),
        ],
        [_td("correlation"), _cell(rho_txt), _td("ρ of the mids' shocks, rows separated by ;")],
        [
            _td("portfolio_skew"),
            _cell(str(cfg.get("portfolio_skew"))),
            _td("true: each policy skews on the risk-equivalent inventory R·q; false: on its own (--own-skew)"),
        ],
        [_td("paths"), _cell(cfg.get("paths")), _td("Monte Carlo paths")],
        [_td("seed"), _cell(cfg.get("seed")), _td("same seed ⇒ same random numbers")],
        [_td("steps"), _cell(data.result.get("steps")), _td("steps per path (T/dt), shared by every instrument")],
        [_td("time unit"), _cell(data.time_unit), _td("")],
    ]
    parts, n_shown, n_all = [], 0, 0
    for i in ins:
        name, params = str(i.get("name")), i["params"]
        base = baselines.get(name, {})
        shown = _shown_keys([i.get("policy")], params, base, core=MULTI_CORE, reads=MULTI_PARAMS)
        n_shown, n_all = n_shown + len(shown), n_all + len(params)
        parts.append(
            f"<h3>Instrument {_esc(name)}: {_esc(i.get('policy'))} on {_esc(i.get('preset'))}</h3>\n"
            + _params_table(params, shown, base, f"preset {cfg.get('preset', 'n/a')}")
        )
    note = (
        "Shown per instrument: the parameters its policy and the multi-instrument simulator read (the grid, "
        "the Gaussian mid's σ and s0, the fill intensity A·e<sup>−kδ</sup>, size and the quote controls), "
        "every control that is switched on (away from its registry default) and everything set differently "
        f"from the multi-instrument preset {_esc(cfg.get('preset', 'n/a'))} (<b>bold</b>). Other parameters "
        "(mid_model, jumps, hedging, costs) are not read by this simulator. Prices in each instrument's "
        f"price units, inventory in lots, time in time units (here: {_esc(data.time_unit)})."
    )
    return (
        '<details id="config"><summary><h2>Configuration and parameters</h2> '
        f'<span class="note">({n_shown} of {n_all} parameters shown; click to show or hide)</span></summary>\n'
        + _table(("field", "value", "unit / meaning"), run_rows, "kv")
        + f'\n<h3>Parameters</h3><p class="note">{note}</p>\n'
        + "\n".join(parts)
        + "</details>"
    )


def _multi_baselines(data: ReportData) -> dict[str, dict]:
    """Instrument name → its values in the multi-instrument preset (registry defaults, the base
    preset's values and the multi preset's own); an instrument the preset lacks falls back to its
    base preset and policy."""
    out: dict[str, dict] = {}
    try:
        mc = multi_preset(str(data.config.get("preset")), paths=1)
        out = {nm: dict(c.values) for nm, c in zip(mc.names, mc.configs)}
    except InputError:
        pass
    for i in data.config["instruments"]:
        if str(i.get("name")) not in out:
            try:
                out[str(i.get("name"))] = dict(build_config(i.get("preset"), i.get("policy"), {}, paths=1).values)
            except InputError:
                out[str(i.get("name"))] = {}
    return out


# --------------------------------------------------------------------------- the page

_CSS = (
    """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1500px;padding:0 24px 40px;color:#222}
h1{font-size:1.5em;margin:20px 0 6px}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:34px}
p.lead{margin:4px 0}p.note{color:#555;font-size:.92em}nav a{margin-right:14px}
table{border-collapse:collapse;font-size:.88em;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.changed{font-weight:bold}details#config{margin-top:34px}details#config>summary{cursor:pointer}
details#config>summary h2{display:inline;border:0}section.warnings{background:#fff4e5;border:1px solid #f0b060;padding:4px 14px}table.params td:last-child,table.kv td:last-child{color:#555}
footer{margin-top:40px;color:#777;font-size:.85em}
section#panels{overflow-x:auto}
section#distributions{overflow-x:auto}
"""
    + f"div#fb-six-panel,div#fb-multi-hist{{min-width:{SIX_PANEL_MIN_WIDTH}px}}\n"
)


def _description(data: ReportData) -> list[str]:
    cfg = data.config
    if data.kind == "backtest":
        s = data.summaries()[data.policies[0]]
        o = data.result["options"]
        files = ", ".join(data.result["data"].get("files") or [])
        shown = (
            f" Charts show {data.events_shown:,} of {s.get('events', 0):,} events, evenly spaced."
            if data.events_shown is not None and data.events_shown < (s.get("events") or 0)
            else ""
        )
        return [
            f"Replay of policy {cfg['policy']} with its controls against real quotes and trades of "
            f"{data.result['data'].get('instrument')} ({files}): {s.get('events', 0):,} events over "
            f"{s.get('duration_s') or 0:,.1f} s, {_utc(data.start_ns)} → {_utc(data.end_ns)} UTC; "
            f"{s.get('fills', 0):,} fills.",
            f"Latency: feed {o.get('feed_latency')}, order {o.get('order_latency')}; queue model {o.get('queue')}. "
            f"Prices in {data.price_unit}, quantities in {data.qty_unit}, time in seconds since the first "
            f"event.{shown}",
        ]
    if data.kind == "multi":
        s = data.result
        ins = "; ".join(
            f"{i.get('name')}: {i.get('policy')}, σ = {_fmt(i['params'].get('sigma'))}, "
            f"s0 = {_fmt(i['params'].get('s0'))}"
            for i in cfg["instruments"]
        )
        skew = (
            "Gaussian (arithmetic Brownian) mids; each policy skews on the portfolio's risk-equivalent inventory R·q (R_ij = Σ_ij/Σ_ii)"
            if cfg.get("portfolio_skew")
            else "each policy skews on its own inventory (--own-skew)"
        )
        return [
            f"One maker quoting {len(data.instruments)} instruments ({ins}) with one cash account; the mids move "
            f"with correlation ρ; {skew}. {s.get('paths', 0):,} Monte Carlo paths × {s.get('steps', 0):,} steps, "
            f"seed {cfg.get('seed')}. Time unit: {data.time_unit}; prices in price units (one currency for "
            "every instrument), inventory in lots.",
            "No sample path is recorded: the charts show the final inventories and the portfolio PnL of every path.",
        ]
    pols = ", ".join(data.policies)
    lines = [
        f"{'Policies ' + pols + ' on identical order flow' if data.kind == 'compare' else 'Policy ' + pols}, "
        f"preset {cfg.get('preset')}: {cfg.get('paths', 0):,} Monte Carlo paths × {cfg.get('steps', 0):,} steps, "
        f"seed {cfg.get('seed')}. Time unit: {data.time_unit}; prices in price units, inventory in lots.",
        "The six panels show sample path 0 (the seed-000 figure); the histogram pools the final inventory "
        "of every path.",
    ]
    if data.kind == "compare":
        lines.append(
            "The same seed gives every policy the same random numbers (common random numbers), so the "
            "differences are the policies' own."
        )
    return lines


def _data_json(data: ReportData) -> str:
    text = json.dumps(jsonable(data.data_block()), indent=1, allow_nan=False, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _multi_sections(data: ReportData) -> list[tuple[str, str, str]]:
    return [
        ("warnings", "Warnings", _warnings_section(data)),
        ("summary", "Summary", _multi_summary_section(data)),
        ("distributions", "Distributions", _multi_hist_section(data)),
        ("paired", "Random numbers", _multi_paired_section(data)),
        ("config", "Configuration", _multi_config_section(data)),
    ]


def render(data: ReportData) -> str:
    """The report of ``data`` as one self-contained HTML page (plotly.js inline, once)."""
    from plotly.offline import get_plotlyjs

    title = data.title()
    sections = (
        _multi_sections(data)
        if data.kind == "multi"
        else [  # results first; the configuration last
            ("warnings", "Warnings", _warnings_section(data)),
            ("summary", "Summary", _summary_section(data)),
            (
                "panels",
                "Six panels",
                f'<section id="panels"><h2>Six panels ({_esc(_panels_subject(data))})</h2>'
                '<p class="note">Zoom with the mouse (the time panels zoom together); click a legend entry to hide it, '
                "double-click to show only it; the camera icon saves the figure as SVG.</p>\n"
                + _six_panel(data)
                + "</section>",
            ),
            ("compare", "Side by side", _compare_section(data)),
            ("zones", "Zone timeline", _zone_section(data)),
            ("attribution", "PnL attribution", _attribution_section(data)),
            ("markouts", "Markouts", _markout_section(data)),
            ("config", "Configuration", _config_section(data)),
        ]
    )
    nav = " ".join(f'<a href="#{sid}">{_esc(name)}</a>' for sid, name, body in sections if body)
    lead = "\n".join(f'<p class="lead">{_esc(line)}</p>' for line in _description(data))
    body = "\n".join(b for _, _, b in sections if b)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="flatbook {_esc(__version__)}">
<title>{_esc(title)}</title>
<style>{_CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head>
<body>
<header><h1>{_esc(title)}</h1>
{lead}
<nav>{nav}</nav></header>
{body}
<footer>Written by flatbook {_esc(__version__)}. Self-contained: plotly.js is embedded, nothing is loaded from the
network. The run's JSON output is embedded in the script element #{DATA_ID}.</footer>
<script type="application/json" id="{DATA_ID}">
{_data_json(data)}
</script>
</body>
</html>
"""
