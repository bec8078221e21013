"""``flatbook.backtest_files`` (many days, on the sweep's Dask engine, resumable) and ``flatbook.ensemble``
(one file, many queue/latency/fill models): backtests in batches."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..backtest import BacktestOptions, replay_config
from ..backtest.engine import QUEUE_CODES
from ..config import build_config, load_toml
from ..data.events import CONTRACTS, ON_ERROR, DataError
from ..data.load import FORMATS, detect_format
from ..errors import InputError
from ..results.batch import BatchBacktestResult, EnsembleResult
from ..results.replay import BacktestResult
from ..suggest import unknown
from ..sweep.backtests import (
    BatchInterrupted,
    BatchProgress,
    across_days,
    data_files,
    is_batch,
    make_jobs,
    run_files,
)
from ..sweep.ensemble import SPREAD_KEYS, axis_effects, member_grid, run_members, spread
from ..sweep.runner import check_scheduler
from ._args import merge_params, policy_name
from .replay import _book_options, _data, _positive, backtest_options, check_backtest_data, load_data

__all__ = [
    "BatchInterrupted",
    "BatchProgress",
    "axis_names",
    "axis_values",
    "backtest_files",
    "check_batch_options",
    "check_cluster",
    "ensemble",
    "is_batch",
]

_LOAD_KEYS = ("format", "trades", "on_error", "cache", "contract", "contract_size", "settlement", "lot_size")


def check_cluster(workers: Any, scheduler: str | None) -> int | None:
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 1024):
        raise InputError("workers", f"got {workers!r}; allowed: an integer from 1 to 1,024")
    if scheduler is not None:
        check_scheduler(scheduler)
        if workers is not None:
            raise InputError("workers", "sizes the local cluster only; the cluster at scheduler has its own workers")
    return workers


def _check_load(kw: Mapping[str, Any]) -> None:
    """The loading options checked before any file is read (the same checks as :func:`load_data`)."""
    if kw.get("format", "auto") not in FORMATS:
        raise unknown("format", "format", kw["format"], FORMATS)
    if kw.get("on_error", "fail") not in ON_ERROR:
        raise unknown("on_error", "on_error", kw["on_error"], ON_ERROR)
    if kw.get("contract") is not None and kw["contract"] not in CONTRACTS:
        raise unknown("contract", "contract type", kw["contract"], CONTRACTS)
    _positive("contract_size", kw.get("contract_size"), "price-currency units per contract")
    _positive("lot_size", kw.get("lot_size"), "quantity units")


#: formats whose rows never carry local receive stamps (``measured`` latency needs them)
_NO_LOCAL_TS = ("lobster", "generic")
#: formats with a full-depth book (``book="depth"``): Binance's depth stream, or the rows as they are
_DEPTH_FORMATS = ("binance", "hftbacktest", "tardis")


def _measured_field(options: BacktestOptions) -> str | None:
    """The keyword of a ``measured`` latency in ``options`` (None if neither leg is measured)."""
    feed, order = options.feed_latency.kind == "measured", options.order_latency.kind == "measured"
    if feed and order:
        return "latency_ms"
    return "feed_latency_ms" if feed else "order_latency_ms" if order else None


def check_batch_options(files: Sequence[Path], load_kw: Mapping[str, Any], options: BacktestOptions) -> None:
    """Refuse, before any file is read or any cluster or store is started, the options that no file of the batch
    can honour or that some file's format cannot (one :class:`InputError` naming the option and the first such
    file): ``on_gap`` without ``book="depth"``, ``book="depth"`` on a LOBSTER, generic or event file, and
    ``measured`` latency on a LOBSTER or generic file (no local receive stamps). The format is the one given,
    or read from each file's name and first bytes (:func:`flatbook.data.load.detect_format`); a file whose
    format cannot be told is left to its own load (a per-file warning)."""
    book, on_gap = load_kw.get("book", "touch"), load_kw.get("on_gap", "resync")
    _book_options(".", "binance", book, on_gap, None)  # file-independent: the values, on_gap without depth
    measured = _measured_field(options)
    if book == "touch" and measured is None:
        return
    no_depth: list[tuple[str, str]] = []
    no_stamps: list[tuple[str, str]] = []
    for f in files:
        fmt = load_kw.get("format", "auto")
        if fmt == "auto":
            try:
                fmt = detect_format(f)
            except (DataError, OSError):
                continue  # the file's own problem: its load reports it, the run goes on
        if book == "depth" and fmt not in _DEPTH_FORMATS:
            no_depth.append((Path(f).name, fmt))
        if measured is not None and fmt in _NO_LOCAL_TS:
            no_stamps.append((Path(f).name, fmt))

    def which(bad: list[tuple[str, str]]) -> str:
        name, fmt = bad[0]
        more = f" (and {len(bad) - 1:,} more of the {len(files):,} files; narrow DATA)" if len(bad) > 1 else ""
        return f"{name} is a {fmt} file{more}"

    if no_depth:
        raise InputError(
            "book",
            f"depth needs a full-depth book (Binance captures, hftbacktest, Tardis); {which(no_depth)}; "
            "allowed for it: touch",
        )
    if no_stamps and measured is not None:
        raise InputError(
            measured,
            f"measured latency needs local receive stamps; {which(no_stamps)} without them; "
            "allowed for it: a number or a distribution (5, exp:5, ...)",
        )


def _result_dict(raw, events) -> dict:
    """A file's whole result as ``BacktestResult.to_dict()`` gives it (run on a worker)."""
    return BacktestResult(raw, events).to_dict()


def backtest_files(
    data: str | os.PathLike | Sequence[str | os.PathLike],
    policy: Any = "linear-skew",
    *,
    params: Mapping[str, Any] | None = None,
    config: str | os.PathLike | None = None,
    options: BacktestOptions | None = None,
    latency_ms: str | float | None = None,
    queue: str = "prorata",
    seed: int = 0,
    format: str = "auto",
    trades: str | os.PathLike | None = None,
    on_error: str = "fail",
    cache: bool = True,
    contract: str | None = None,
    contract_size: float | None = None,
    settlement: str | None = None,
    lot_size: float | None = None,
    book: str = "touch",
    on_gap: str = "resync",
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | os.PathLike | None = None,
    cluster: bool = True,
    client: Any = None,
    progress: Callable[[BatchProgress], None] | None = None,
    **overrides: Any,
) -> BatchBacktestResult:
    """Backtest a policy on many files, one task per file on the sweep's Dask engine (``flatbook backtest
    DIR_OR_GLOB``); merged per file and across the files (each a day).

    Parameters
    ----------
    data : path, glob or list of paths
        A directory (its data files: .zip, .gz, .csv, .parquet), a glob (``"caps/*.gz"``) or a list of files.
    policy, params, config, **overrides
        As :func:`flatbook.backtest`; every value checked before any file is read. Each file's unset
        parameters are derived from its own data.
    options, latency_ms, queue, seed
        The replay's options: a :func:`flatbook.api.backtest_options` record, or these keywords.
    format, trades, on_error, cache, contract, contract_size, settlement, lot_size, book, on_gap
        How every file is loaded (:func:`flatbook.load_data`).
    workers, scheduler
        A local Dask cluster of ``workers`` processes (default one per core), or the cluster at ``scheduler``
        (tcp://host:port); needs the extra ``flatbook[sweep]``.
    out : path, optional
        Store each file's row under ``out/points/`` as it finishes (atomically); the same call again into
        ``out`` replays only the files not stored (resume). Ctrl-C raises :class:`BatchInterrupted`
        (a KeyboardInterrupt) with the finished files saved.
    cluster : bool, default True
        False: replay the files in this process, one after another (the same numbers).
    client : distributed.Client, optional
        An existing client to use (kept open), instead of a new cluster.
    progress : callable(BatchProgress), optional
        Called as each file finishes (``done``, ``total``, ``resumed``, ``failed``, ``last``).

    Returns
    -------
    flatbook.results.BatchBacktestResult
        ``.summary`` (across days: mean, std and SE of daily PnL, Sharpe per day, worst day, totals), ``.files``
        (per file), ``.results`` (each file's whole result). A file that does not load is reported (its row
        has ``ok`` False, and a warning line) and the run goes on; :class:`InputError` when no file replays
        (a new ``out`` is then removed), and before any file is read or ``out`` is created for options a
        file's format cannot honour (:func:`check_batch_options`). A SIGTERM ends the run as Ctrl-C does
        (:class:`BatchInterrupted` with ``signum``; the manifest says ``"interrupted"``).
    """
    policy = policy_name(policy)
    values = merge_params(params, overrides, ("data", "policy", "params", "config", "options", "workers", "out"))
    if config is not None:
        values = {**load_toml(config)[1], **values}
    if options is None:
        options = backtest_options(latency_ms=latency_ms, queue=queue, seed=seed)
    elif not isinstance(options, BacktestOptions):
        raise InputError("options", f"expected flatbook.api.backtest_options(...), got {type(options).__name__}")
    build_config("replay", policy, values, paths=1)
    n_workers = check_cluster(workers, scheduler)
    load_kw = {
        "format": format,
        "trades": trades,
        "on_error": on_error,
        "cache": cache,
        "contract": contract,
        "contract_size": contract_size,
        "settlement": settlement,
        "lot_size": lot_size,
    }
    if (book, on_gap) != ("touch", "resync"):  # the full-depth book (load_data checks them per file)
        load_kw |= {"book": book, "on_gap": on_gap}
    _check_load(load_kw)
    if isinstance(data, (str, os.PathLike)):
        files = data_files(data)
    else:
        files = [p for d in data for p in data_files(d)]
    unique: dict[Path, Path] = {}  # a file named twice (two patterns, a link) runs once
    for f in files:
        unique.setdefault(Path(f).resolve(), Path(f))
    files = list(unique.values())
    check_batch_options(files, load_kw, options)
    jobs = make_jobs(files, policy, values, options, load_kw)
    out_dir = Path(out) if out is not None else None
    manifest = {
        "kind": "backtest_files",
        "flatbook_version": __version__,
        "policy": policy,
        "params": values,
        "options": options.as_dict(),
        "files": [j.where for j in jobs],
        "ids": [j.id for j in jobs],
    }
    logging.getLogger("distributed").setLevel(logging.ERROR)
    rows, st = run_files(
        jobs,
        out_dir,
        cluster=cluster,
        scheduler=scheduler,
        workers=n_workers,
        client=client,
        progress=progress,
        loader=load_data,
        to_dict=_result_dict,
        manifest=manifest,
    )
    if not any(r["ok"] for r in rows):
        first = rows[0]
        raise InputError("data", f"no file could be backtested; {first['name']}: {first['error']}")
    across = across_days(rows)
    across.update(computed=st.done - st.resumed - st.failed, resumed=st.resumed)
    meta = {
        "policy": policy,
        "params": values,
        "options": options.as_dict(),
        "out": str(out_dir) if out_dir is not None else None,
    }
    return BatchBacktestResult(rows, across, meta)


# --------------------------------------------------------------------------- ensembles


def axis_names() -> tuple[str, ...]:
    """The keywords an ensemble may vary: every keyword of :func:`flatbook.api.backtest_options` but ``seed``
    (the members share it) and a user queue model's file and parameters (not model axes: vary ``queue``)."""
    fixed = ("seed", "queue_file", "queue_params")
    return tuple(k for k in inspect.signature(backtest_options).parameters if k not in fixed)


def _axis_key(name: str) -> str:
    key = str(name).strip().lstrip("-").replace("-", "_")
    allowed = axis_names()
    if key == "seed":
        raise InputError("seed", "the members share one seed (common random numbers); give it as seed=, not an axis")
    if key not in allowed:
        raise unknown(str(name), "ensemble axis (a backtest option)", name, allowed)
    return key


def _typed(key: str, value: Any) -> Any:
    """``value`` (a string from a list) as the keyword's default's type (float, int), else as given."""
    default = inspect.signature(backtest_options).parameters[key].default
    if not isinstance(value, str) or isinstance(default, bool) or not isinstance(default, (int, float)):
        return value
    try:
        return type(default)(float(value)) if isinstance(default, float) else int(value)
    except ValueError:
        raise InputError(key, f"got {value!r}; allowed: a number") from None


def _check_value(key: str, value: Any, fixed: Mapping[str, Any] | None = None) -> Any:
    v = _typed(key, value)
    backtest_options(**{**_file_for(key, v, fixed), key: v})  # raises InputError naming the keyword
    return v


def _file_for(key: str, value: Any, fixed: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The queue file (and its parameters) for a member whose ``key`` is ``value``: for a ``queue`` value that
    is not a built-in model (prorata, l2, prob, l3: those stay the built-ins beside a user's model) and for the
    other axes (a file's only model is then every member's queue)."""
    if not fixed or (key == "queue" and isinstance(value, str) and value in QUEUE_CODES):
        return {}
    return fixed


def _model_key(opts: BacktestOptions) -> str:
    """``opts`` as the replay sees it: a queue's aliases (``l2`` is ``prorata``) written as the one model."""
    q = opts.queue
    code = QUEUE_CODES.get(q) if isinstance(q, str) else None
    return repr(opts).replace(f"queue={q!r}", f"queue=<code {code}>") if code is not None else repr(opts)


def check_queue_file_used(axes: Mapping[str, Sequence[Any]], queue_file: Any) -> None:
    """Refuse a queue file that no member would use: every value of the ``queue`` axis a built-in model."""
    qs = axes.get("queue")
    if queue_file is not None and qs is not None and all(isinstance(q, str) and q in QUEUE_CODES for q in qs):
        raise InputError(
            "queue_file",
            f"no member uses it: every queue value ({', '.join(map(str, qs))}) is a built-in model; "
            "name one of the file's models in the queue axis",
        )


def same_models(key: str, values: Sequence[Any], fixed: Mapping[str, Any] | None = None) -> tuple[list[Any], list[str]]:
    """``values`` of one axis with the ones that are the same model as an earlier value dropped (``l2`` after
    ``prorata``: two names of one queue model), and a warning for each one dropped."""
    keep: list[Any] = []
    seen: dict[str, Any] = {}
    warn = []
    for v in values:
        k = _model_key(backtest_options(**{**_file_for(key, v, fixed), key: v}))
        if k in seen:
            warn.append(f"{key}: {_label(v)} is the same model as {_label(seen[k])}; one member runs for both")
            continue
        seen[k] = v
        keep.append(v)
    return keep, warn


def axis_values(
    name: str, values: str | Sequence[Any], fixed: Mapping[str, Any] | None = None
) -> tuple[str, list[Any]]:
    """An axis's keyword and its values, each checked by :func:`backtest_options`.

    ``values``: a list, or a string: values separated by ``;`` if it holds one, else by ``,``, where a comma
    that splits a value into pieces no option accepts joins them (``"0,5,exp:5,uniform:2,8"`` is 0, 5, exp:5
    and uniform:2,8). ``fixed``: the options every member shares (a ``queue_file`` whose models ``queue``
    may name), given to the check."""
    key = _axis_key(name)
    if not isinstance(values, str):
        vals = list(values)
        if not vals:
            raise InputError(key, "an ensemble axis needs at least one value")
        return key, [_check_value(key, v, fixed) for v in vals]
    text = values.strip()
    if ";" in text:
        parts = [p.strip() for p in text.split(";") if p.strip()]
        return key, [_check_value(key, p, fixed) for p in parts]
    toks = [t.strip() for t in text.split(",")]
    out: list[Any] = []
    i = 0
    while i < len(toks):
        first_err: InputError | None = None
        for j in range(i, len(toks)):
            cand = ",".join(toks[i : j + 1])
            try:
                out.append(_check_value(key, cand, fixed))
            except InputError as e:
                first_err = first_err or e
                continue
            i = j + 1
            break
        else:
            assert first_err is not None
            nxt = toks[i + 1] if i + 1 < len(toks) else ""
            if ":" in toks[i] and nxt.replace(".", "", 1).isdigit():  # "uniform:8,2": the pair's own error
                _check_value(key, f"{toks[i]},{nxt}", fixed)
            raise first_err
    if not out:
        raise InputError(key, "an ensemble axis needs at least one value")
    return key, out


def _label(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def ensemble(
    data: Any,
    policy: Any = "linear-skew",
    *,
    axes: Mapping[str, str | Sequence[Any]],
    params: Mapping[str, Any] | None = None,
    config: str | os.PathLike | None = None,
    seed: int = 0,
    queue_file: str | os.PathLike | None = None,
    queue_params: Mapping[str, Any] | None = None,
    format: str = "auto",
    trades: str | os.PathLike | None = None,
    on_error: str = "fail",
    cache: bool = True,
    contract: str | None = None,
    contract_size: float | None = None,
    settlement: str | None = None,
    lot_size: float | None = None,
    book: str = "touch",
    on_gap: str = "resync",
    workers: int | None = None,
    scheduler: str | None = None,
    cluster: bool | None = None,
    client: Any = None,
    progress: Callable[[int, int], None] | None = None,
    **overrides: Any,
) -> EnsembleResult:
    """One policy replayed on one file across an ensemble of models: every combination of ``axes``
    (``flatbook ensemble``). The spread of PnL, fills and max |q| across the members shows how much of a
    backtest's result is the model rather than the strategy.

    Parameters
    ----------
    data : path or EventTable
        One file (loaded once; every member replays the same table) or a loaded table.
    policy, params, config, **overrides
        As :func:`flatbook.backtest`.
    axes : mapping
        Backtest option → its values: ``{"queue": ["prorata", "prob"], "latency_ms": "0,5,exp:5"}``; any
        keyword of :func:`flatbook.api.backtest_options` but ``seed`` (:func:`axis_names`); a string is
        a list (:func:`axis_values`); one value fixes the option for every member. Every value is checked
        before the file is read.
    seed : int, default 0
        Shared by every member (common random numbers): same seed, same numbers.
    queue_file, queue_params : optional
        A file of queue models and their parameters, shared by every member (``queue`` may then name a model
        of the file: a user's model as a member, ``axes={"queue": "prorata,my_model"}``; left out of the
        axes, the file's only model is every member's queue).
    format, trades, on_error, cache, contract, contract_size, settlement, lot_size, book, on_gap
        How to load a file (:func:`flatbook.load_data`; ``book="depth"``: the full-depth book, which the
        ``l2``/``prob`` queue models read level by level). Values of an axis that are one model under two
        names (``l2`` and ``prorata``) run once, with a warning.
    workers, scheduler, cluster, client
        Run the members on a Dask cluster (the table sent once to every worker): a local one of ``workers``
        processes, the one at ``scheduler``, or ``client``. Default: a cluster when ``workers`` or
        ``scheduler`` is given, else this process (the same numbers).
    progress : callable(done, total), optional
        Called as members finish.

    Returns
    -------
    flatbook.results.EnsembleResult
        ``.summary`` (``pnl_final.min`` … ``.range_pct_of_mean``), ``.members`` (DataFrame), ``.spread``,
        ``.effects`` (each axis's main effect).
    """
    policy = policy_name(policy)
    values = merge_params(params, overrides, ("data", "policy", "params", "config", "axes", "seed", "workers"))
    if config is not None:
        values = {**load_toml(config)[1], **values}
    if not isinstance(axes, Mapping) or not axes:
        raise InputError("axes", "give at least one backtest option and its values, e.g. {'queue': 'prorata,prob'}")
    fixed: dict[str, Any] = {}
    if queue_file is not None:
        fixed["queue_file"] = queue_file
    if queue_params:
        fixed["queue_params"] = dict(queue_params)
    parsed: dict[str, list[Any]] = {}
    warns: list[str] = []
    for name, vals in axes.items():
        key, vs = axis_values(name, vals, fixed if _axis_key(name) == "queue" else None)
        if key in parsed:
            raise InputError(key, "given twice (as two spellings of one option); give it once")
        parsed[key], w = same_models(key, list(dict.fromkeys(vs)), fixed if key == "queue" else None)
        warns += w
    check_queue_file_used(parsed, queue_file)
    members = member_grid(parsed)
    # every combination checked before loading
    options = [backtest_options(**m, **_file_for("queue", m.get("queue"), fixed), seed=seed) for m in members]
    build_config("replay", policy, values, paths=1)
    n_workers = check_cluster(workers, scheduler)
    if cluster is None:
        cluster = workers is not None or scheduler is not None
    ev = _data(
        data,
        {
            "format": format,
            "trades": trades,
            "on_error": on_error,
            "cache": cache,
            "contract": contract,
            "contract_size": contract_size,
            "settlement": settlement,
            "lot_size": lot_size,
            "book": book,
            "on_gap": on_gap,
        },
    )
    for o in options:
        check_backtest_data(ev, o)  # measured latency needs local stamps
    cfg = replay_config(ev, policy, values, seed=options[0].seed)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    rows = run_members(
        ev, cfg, options, cluster=cluster, scheduler=scheduler, workers=n_workers, client=client, progress=progress
    )
    labels = [{k: _label(v) for k, v in m.items()} for m in members]
    sp = {k: spread([r.get(k) for r in rows]) for k in SPREAD_KEYS}
    eff = {k: axis_effects(labels, rows, k) for k in ("pnl_final", "fills", "max_abs_q")}
    m = ev.meta
    cur, qty = m.settlement_currency, m.qty_unit
    units = {
        **dict.fromkeys(("pnl_final", "pnl_liquidated", "fees", "max_drawdown"), cur),
        **dict.fromkeys(("max_abs_q", "final_q", "q_std"), qty),
        "fills": "fills",
    }
    if any(r.get("pnl_final_quote") is not None for r in rows):  # an inverse contract: PnL's value in price units
        units["pnl_final_quote"] = f"{m.price_unit} (at the last mid)"
    meta = {
        "policy": policy,
        "params": values,
        "seed": seed,
        "instrument": m.instrument,
        "settlement_currency": cur,
        "qty_unit": qty,
        "book": ev.meta.book,
        "events": len(ev),
    }
    if queue_file is not None:
        meta["queue_file"] = str(queue_file)
        meta["queue_params"] = dict(queue_params or {})
    axes_out = {k: [_label(v) for v in vs] for k, vs in parsed.items()}
    return EnsembleResult(axes_out, labels, rows, sp, eff, meta, units, warns)
