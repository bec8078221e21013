"""``flatbook sweep``: grid, random or adaptive (optuna) search over any ``--set``-able parameter,
or a built-in study, on a Dask cluster (local by default, ``--scheduler`` for an existing one).

Every point runs on the same seed and paths (common random numbers). With ``--out DIR`` each
finished task is saved at once under ``DIR/points/`` and a rerun of the same sweep into the same
DIR skips the points already there; Ctrl-C leaves them saved (exit 130). At the end DIR also
gets ``results.parquet`` (one row per point: summary and standard errors, the wall-clock fields
in the struct column ``timing``), ``sweep.json`` (frontiers, best points, study results),
``frontier.png`` and, for a two-parameter grid, ``heatmap.png``; a study writes ``study.png``.

A rerun of a sweep that DIR already holds complete starts no cluster, simulates nothing and
keeps the figures it finds there (they were drawn from the same points); it rewrites
``results.parquet`` and ``sweep.json`` and prints the tables.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

from .._version import __version__
from ..config import build_config, load_toml, parse_set
from ..errors import InputError
from ..extras import require
from ..jsonutil import jsonable
from ..params import PARAMS
from . import output
from .common import (
    DEFAULT_PATHS,
    DEFAULT_POLICY,
    DEFAULT_PRESET,
    DEFAULT_SEED,
    ClickException,
    ConfigOpt,
    JsonOpt,
    PathsOpt,
    PresetOpt,
    SeedOpt,
    SetOpt,
    _print_json,
    _stdout,
)
from .progress import ProgressBar

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it

TABLE_FIGURES = (
    ("pnl_mean", "mean PnL"),
    ("pnl_std", "std PnL"),
    ("final_q_std", "std final q"),
    ("q_rms", "rms q"),
    ("es_95", "ES 95%"),
    ("spread_given_up_mean", "spread given up"),
    ("mv", "mean–var U"),
)
FRONT_CODES = {"pnl_std": "P", "final_q_std": "Q", "q_rms": "R", "es_95": "E"}
MAX_TABLE_ROWS = 60


# --------------------------------------------------------------------------- progress


class _SweepBar(ProgressBar):
    """The progress bar (stderr, after ~1 s, on a terminal), counting points and paths."""

    def __init__(self) -> None:
        super().__init__(
            0,
            (BarColumn(), MofNCompleteColumn(), TextColumn("points"), TextColumn("{task.fields[paths]}")),
            description="sweep",
            paths="",
        )

    # the sweep's own progress callback (runner.Progress in, not ProgressBar's completed/description)
    def update(self, st) -> None:  # type: ignore[override]
        cached = f", {st.cached} resumed" if st.cached else ""
        self.progress.update(
            self.task,
            total=st.points_total,
            completed=st.points_done,
            paths=f"{st.paths_done:,}/{st.paths_total:,} paths{cached}",
        )


# --------------------------------------------------------------------------- helpers


def _int(field: str, raw: str | None, lo: int, hi: int) -> int | None:
    if raw is None:
        return None
    try:
        val = int(raw)
    except ValueError:
        raise InputError(field, f"got {raw!r}; allowed: an integer from {lo} to {hi:,}") from None
    if not lo <= val <= hi:
        raise InputError(field, f"got {val}; allowed: an integer from {lo} to {hi:,}")
    return val


def _lambda(raw: str | None, default: float) -> float:
    if raw is None:
        return default
    try:
        val = float(raw)
    except ValueError:
        raise InputError(
            "--risk-aversion", f"got {raw!r}, not a number; allowed: a number >= 0 ({_LAMBDA_UNIT})"
        ) from None
    if not (math.isfinite(val) and val >= 0):
        raise InputError("--risk-aversion", f"got {raw!r}; allowed: a finite number >= 0 ({_LAMBDA_UNIT})")
    return val


_LAMBDA_UNIT = "per (price unit × lot)"


def _pm(v, se) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    s = f"{v:.4g}"
    if se is not None and isinstance(se, float) and math.isfinite(se):
        s += f" ±{se:.1g}"
    return s


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        return "inf" if math.isinf(v) else f"{v:.4g}"
    return str(v)


# manifest entries that do not change what a sweep computes or draws
_NOT_IDENTITY = ("status", "optuna_batch")


def _same_sweep(old: dict | None, meta: dict, *, ignore: tuple[str, ...] = ()) -> bool:
    """Whether the manifest ``old`` describes the sweep ``meta`` (compared as stored JSON)."""
    if not old:
        return False
    skip = set(_NOT_IDENTITY) | set(ignore)
    now = json.loads(json.dumps(jsonable({k: v for k, v in meta.items() if k not in skip})))
    return {k: v for k, v in old.items() if k not in skip} == now


def _varying(df) -> list[str]:
    """Override keys whose value differs between points (for a study's table)."""
    keys = []
    for col in df.columns:
        if col in PARAMS and df[col].astype(str).nunique() > 1:
            keys.append(col)
    return keys


# --------------------------------------------------------------------------- the command


@app.command()
def sweep(
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            metavar="KEY=V1,V2|LO:HI:N",
            help="A swept parameter (repeatable): key=v1,v2,..., key=lo:hi:n, "
            "key=log:lo:hi:n; key=lo:hi for --random/--optuna.",
        ),
    ] = None,
    random_: Annotated[
        str | None,
        typer.Option("--random", metavar="N", help="Random search: N points drawn (seeded) within the --grid bounds."),
    ] = None,
    optuna_: Annotated[
        str | None,
        typer.Option(
            "--optuna",
            metavar="N",
            help="Adaptive search: N optuna trials on --objective (needs the extra flatbook\\[sweep]).",
        ),
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", metavar="NAME", help="A built-in study: skew-frontier or as-gamma.")
    ] = None,
    preset: PresetOpt = None,
    policy: Annotated[
        str | None, typer.Option("--policy", metavar="NAME", help=f"Quoting policy (default {DEFAULT_POLICY}).")
    ] = None,
    set_: SetOpt = None,
    paths: PathsOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    objective: Annotated[
        str,
        typer.Option(
            "--objective",
            metavar="NAME",
            help="Objective of --optuna and of the starred point: mv, pnl_mean, sharpe, pnl_std, final_q_std, q_rms or es_95.",
        ),
    ] = "mv",
    risk_aversion: Annotated[
        str | None,
        typer.Option(
            "--risk-aversion",
            metavar="λ",
            help="λ of the mean–variance utility E[PnL] − (λ/2)·Var[PnL], per (price unit × lot) (default: the run's gamma).",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="tcp://HOST:PORT",
            help="Run on this existing Dask cluster (default: a local cluster on this machine's cores).",
        ),
    ] = None,
    workers: Annotated[
        str | None, typer.Option("--workers", metavar="N", help="Local cluster size (default: one worker per core).")
    ] = None,
    points_per_task: Annotated[
        str | None,
        typer.Option("--points-per-task", metavar="N", help="Points per Dask task (default: tasks of about 3 s)."),
    ] = None,
    json_: JsonOpt = False,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Save points as they complete (resumable), results.parquet, sweep.json and figures.",
        ),
    ] = None,
) -> None:
    """Sweep parameters (grid, random, optuna) or run a built-in study, on a Dask cluster; frontier and best points."""
    from ..sweep import runner as SR
    from ..sweep.grid import grid_points, parse_grid, random_points
    from ..sweep.objectives import OBJECTIVES
    from ..sweep.studies import STUDIES

    if objective not in OBJECTIVES:
        raise InputError("--objective", f"got {objective!r}; allowed: {', '.join(OBJECTIVES)}")
    n_workers = _int("--workers", workers, 1, 1024)
    per_task = _int("--points-per-task", points_per_task, 1, 1_000_000)
    n_random = _int("--random", random_, 1, 100_000)
    n_optuna = _int("--optuna", optuna_, 1, 100_000)
    if scheduler is not None:
        SR.check_scheduler(scheduler)
        if n_workers is not None:
            raise InputError(
                "--workers", "sizes the local cluster only; the cluster at --scheduler has its own workers"
            )
    axes: list = []
    the_study = None
    if study is not None:
        the_study = STUDIES.get(study)
        if the_study is None:
            raise InputError("--study", f"unknown study {study!r}; allowed: {', '.join(STUDIES)}")
        for flag, val in (
            ("--grid", grid),
            ("--random", random_),
            ("--optuna", optuna_),
            ("--preset", preset),
            ("--policy", policy),
            ("--set", set_),
            ("--config", config),
        ):
            if val:
                raise InputError("--study", f"a study fixes its own points; drop {flag}")
        n = _int("--paths", paths, 1, 1_000_000_000) or the_study.default_paths
        s = _int("--seed", seed, 0, 2**63 - 1) or DEFAULT_SEED
        points = the_study.points(n, s)
        mode, pol, preset_name, base = "study", None, None, {}
        lam = _lambda(risk_aversion, 0.1)
    else:
        run, params = load_toml(config) if config is not None else ({}, {})
        set_over = parse_set(set_)
        base = {**params, **set_over}
        preset_name = preset if preset is not None else run.get("preset", DEFAULT_PRESET)
        pol = policy if policy is not None else run.get("policy", DEFAULT_POLICY)
        if not isinstance(pol, str):
            raise InputError("run.policy", "a sweep takes one policy")
        n_raw = paths if paths is not None else run.get("paths", DEFAULT_PATHS)
        s_raw = seed if seed is not None else run.get("seed", DEFAULT_SEED)
        base_cfg = build_config(
            preset_name, pol, base, paths=n_raw, seed=s_raw
        )  # validates preset, policy, --set, paths, seed
        n, s = base_cfg.paths, base_cfg.seed
        axes = parse_grid(grid, fixed=set_over)
        if not axes:
            raise InputError(
                "--grid", "give at least one parameter to sweep, e.g. --grid skew=0:0.05:6 (or --study skew-frontier)"
            )
        if n_random is not None and n_optuna is not None:
            raise InputError("--optuna", "choose one of --random and --optuna")
        lam = _lambda(risk_aversion, float(base_cfg.values["gamma"]))
        if n_optuna is not None:
            require("sweep", "optuna", field="--optuna")
            for ax in axes:
                if ax.lo is None and not ax.values:
                    raise InputError(f"--grid {ax.item}", "give bounds or values for --optuna")
            mode, combos = "optuna", []
        elif n_random is not None:
            mode, combos = "random", random_points(axes, n_random, s)
        else:
            mode, combos = "grid", grid_points(axes)
        points = SR.make_points(preset_name, pol, base, combos, n, s) if combos else []
    keys = [ax.key for ax in axes]
    out_dir = output.check_out_dir(out) if out is not None else None

    meta: dict[str, Any] = {
        "flatbook_sweep": 1,
        "mode": mode,
        "study": study,
        "preset": preset_name,
        "policy": pol,
        "grid": list(grid or []),
        "set": {k: str(v) for k, v in base.items()},
        "random": n_random,
        "optuna": n_optuna,
        "paths": n,
        "seed": s,
        "objective": objective,
        "risk_aversion": lam,
        "points": [p.id for p in points],
    }
    logging.getLogger("distributed").setLevel(logging.ERROR)
    meta["flatbook_version"] = __version__
    rows: list[dict] = []
    old = None
    with (
        _SweepBar() as bar,
        SR.SweepRunner(
            out_dir, scheduler=scheduler, workers=n_workers, per_task=per_task, progress=bar.update
        ) as runner,
    ):
        store = runner.store
        if store is not None:
            old = store.read_manifest()
            if old and old.get("flatbook_version") not in (None, __version__):
                sys.stderr.write(
                    f"warning: {out_dir} was started by flatbook {old.get('flatbook_version')}; "
                    f"its saved points are reused as they are\n"
                )
            store.write_manifest({**meta, "status": "running"})
        try:
            if mode == "optuna":
                from ..sweep.objectives import OBJECTIVES as OBJ

                obj = OBJ[objective]
                # set in the --optuna branch above (None only for a --study)
                assert preset_name is not None and pol is not None and n_optuna is not None

                def make(params: dict):
                    try:
                        return SR.make_point(preset_name, pol, {**base, **params}, n, s)
                    except InputError as e:
                        raise InputError(f"--optuna trial {SR.describe(params)}", str(e)) from None

                def score(row: dict):
                    import pandas as pd

                    v, _ = obj.evaluate(pd.DataFrame([row]), lam)
                    return float(v[0])

                # TPE's trials depend on the batch size: take it from the sweep's own manifest when
                # resuming (no cluster needed, the same trials whatever the cluster is now), else
                # the local cluster's size, else (a scheduler) its workers
                if old is not None and _same_sweep(old, meta, ignore=("points",)) and old.get("optuna_batch"):
                    batch = int(old["optuna_batch"])
                else:
                    batch = (n_workers or SR.local_cores()) if scheduler is None else runner.n_workers()
                meta["optuna_batch"] = batch
                if store is not None:
                    store.write_manifest({**meta, "status": "running"})
                rows = SR.optuna_search(
                    runner,
                    axes,
                    make,
                    n_optuna,
                    score,
                    direction="maximize" if obj.sense > 0 else "minimize",
                    seed=s,
                    batch=batch,
                )
                meta["points"] = list(dict.fromkeys(r["point_id"] for r in rows))
                rows = list({r["point_id"]: r for r in rows}.values())
            else:
                rows = runner.run(points)
        except KeyboardInterrupt:
            if store is not None:
                done = len(runner.done_ids() & set(meta["points"])) if meta["points"] else len(runner.done_ids())
                store.write_manifest({**meta, "status": "interrupted"})
                sys.stderr.write(
                    f"{done} of {len(meta['points']) or '?'} points saved in {out_dir}; "
                    f"rerun the same command to resume\n"
                )
            raise
        except SR.SweepTaskError as e:
            if store is not None:
                store.write_manifest({**meta, "status": "failed"})
            raise ClickException(str(e)) from None
        stats, tasks_run = runner.stats, runner.tasks_run
        if store is not None:
            store.write_manifest({**meta, "status": "complete"})
    # nothing computed and DIR held this very sweep complete: its figures show these points already
    keep_figures = (
        stats.points_done == stats.cached
        and old is not None
        and old.get("status") == "complete"
        and _same_sweep(old, meta)
    )
    _finish(rows, meta, keys, lam, objective, the_study, out_dir, json_, stats, tasks_run, mode, axes, keep_figures)


def _finish(
    rows,
    meta,
    keys,
    lam,
    objective,
    the_study,
    out_dir,
    json_,
    stats,
    tasks_run,
    mode,
    axes,
    keep_figures: bool = False,
) -> None:
    import pandas as pd

    from ..sweep import report

    df = pd.DataFrame(rows)
    if the_study is not None:
        keys = ["policy"] * (df["policy"].nunique() > 1) + _varying(df)
    from ..sweep.objectives import analyse  # lazy: start-up (numpy)

    points, fronts, best = analyse(df, [k for k in keys if k != "policy"], lam)
    analysis = the_study.analyse(df) if the_study is not None else None
    run_info = {
        "points": len(rows),
        "computed": stats.points_done - stats.cached,
        "resumed": stats.cached,
        "tasks": tasks_run,
        "out": str(out_dir) if out_dir else None,
    }
    obj = {
        "sweep": {k: v for k, v in meta.items() if k != "points"},
        "run": run_info,
        "points": points,
        "frontiers": fronts,
        "best": best,
    }
    if analysis is not None:
        obj["study"] = analysis
    written = []
    if out_dir is not None:
        df.to_parquet(out_dir / ".results.parquet.tmp", index=False, engine="pyarrow")
        Path(out_dir / ".results.parquet.tmp").replace(out_dir / "results.parquet")
        from ..sweep.runner import write_json_atomic

        write_json_atomic(out_dir / "sweep.json", obj)
        written = ["results.parquet", "sweep.json"]
        title = _title(meta, lam)
        figures = []
        if the_study is not None:
            figures.append(("study.png", lambda p: the_study.figure(p, df, analysis)))
        if len(df) >= 2 and the_study is None:
            figures.append(
                ("frontier.png", lambda p: report.write_frontier_png(p, df, keys=keys, lam=lam, title=title))
            )
        if mode == "grid" and len(axes) == 2 and all(len(ax.values) >= 2 for ax in axes):
            figures.append(("heatmap.png", lambda p: report.write_heatmap_png(p, df, keys, lam=lam, title=title)))
        for name, draw in figures:
            if keep_figures and (out_dir / name).is_file():
                written.append(f"{name} (kept: up to date)")
            else:
                draw(out_dir / name)
                written.append(name)
    if json_:
        _print_json(obj)
        return
    _tables(obj, df, keys, lam, objective, meta, analysis, written, out_dir)


def _title(meta: dict, lam: float) -> str:
    if meta["mode"] == "study":
        return f"flatbook sweep --study {meta['study']} — {meta['paths']:,} paths, seed {meta['seed']}"
    grid = " ".join(f"--grid {g}" for g in meta["grid"])
    return (
        f"flatbook sweep — preset {meta['preset']}, policy {meta['policy']}, {meta['mode']}: {grid}; "
        f"{meta['paths']:,} paths, seed {meta['seed']} (common random numbers); λ = {lam:g} {_LAMBDA_UNIT}"
    )


def _tables(obj, df, keys, lam, objective, meta, analysis, written, out_dir) -> None:
    from rich.table import Table
    from rich.text import Text

    con = _stdout()
    points = obj["points"]
    on_front: dict[str, str] = {}
    for risk, code in FRONT_CODES.items():
        for p in obj["frontiers"][risk]:
            on_front[p["point_id"]] = on_front.get(p["point_id"], "") + code
    best_id = obj["best"].get(objective, {}).get("point_id")
    shown = points
    if meta["mode"] in ("random", "optuna"):  # in parameter order, not in order of drawing
        try:
            shown = sorted(points, key=lambda p: tuple(p["params"].get(k) for k in keys))
        except TypeError:
            pass
    note = ""
    if len(points) > MAX_TABLE_ROWS:
        shown = [p for p in shown if p["point_id"] in on_front or p["point_id"] == best_id]
        note = f" (frontier and best points: {len(shown)} of {len(points)}; all in --json and results.parquet)"
    t = Table(title=Text(_title(meta, lam) + note), title_justify="left")
    pkeys = [k for k in keys if k != "policy"]
    if "policy" in keys:
        t.add_column("policy")
    for k in pkeys:
        unit = PARAMS[k].unit
        t.add_column(k if unit == "-" else f"{k} ({unit})", justify="right")
    for _f, label in TABLE_FIGURES:
        t.add_column(label, justify="right")
    t.add_column("frontier", justify="center")
    for p in shown:
        r = [p["policy"]] if "policy" in keys else []
        r += [_fmt(p["params"].get(k)) for k in pkeys]
        r += [_pm(p[f], p[f + "_se"]) for f, _ in TABLE_FIGURES]
        mark = on_front.get(p["point_id"], "")
        r.append(mark + (" ★" if p["point_id"] == best_id else ""))
        t.add_row(*r)
    con.print(t)
    con.print(
        f"± one Monte Carlo standard error. Units: PnL, std, ES, spread given up and U in price units × lots; "
        f"std final q and rms q in lots. mean–var U = E[PnL] − (λ/2)·Var[PnL], λ = {lam:g} {_LAMBDA_UNIT}. "
        f"frontier: non-dominated in mean PnL against P = std PnL, Q = std final q, R = rms q, E = ES 95%; "
        f"★ = best by --objective {objective}.",
        markup=False,
        highlight=False,
    )
    b = Table(title="best point per objective", title_justify="left")
    for c in ("objective", "", "value ± SE", "unit", "point"):
        b.add_column(c)
    for name, d in obj["best"].items():
        b.add_row(
            name,
            d["sense"],
            _pm(d["value"], d["se"]),
            d["unit"],
            ", ".join(f"{k}={_fmt(v)}" for k, v in d["params"].items()) or d["point_id"],
        )
    con.print(b)
    if analysis is not None:
        _study_table(con, analysis)
    run = obj["run"]
    con.print(
        f"{run['points']} points: {run['computed']} computed in {run['tasks']} tasks, {run['resumed']} resumed",
        markup=False,
        highlight=False,
    )
    if out_dir is not None:
        con.print(f"wrote {out_dir}: points/, manifest.json, " + ", ".join(written), markup=False, highlight=False)
    elif run["computed"]:
        con.print(
            "(give --out DIR to save points as they complete and to resume an interrupted sweep)",
            markup=False,
            highlight=False,
        )


def _study_table(con, a: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    if a["study"] == "skew-frontier":
        t = Table(
            title=Text(
                "skew-frontier: the skew that balances spread given up against inventory (max E[PnL] − φ·E[q̄²])"
            ),
            title_justify="left",
        )
        for c in ("charge φ (price units per lot)", "best skew k* ± SE", "A–S: k = φ", "k*/φ ± SE"):
            t.add_column(c, justify="right")
        for r in a["balance"]:
            t.add_row(
                f"{r['charge']:g}",
                _pm(r["best_skew"], r["best_skew_se"]) if r["best_skew"] else r["note"],
                f"{r['theory_skew']:g}",
                _pm(r["ratio"], r["ratio_se"]),
            )
        con.print(t)
    else:
        t = Table(
            title=Text("as-gamma: best points of U_λ = E[PnL] − (λ/2)·Var[PnL] on as2008 against theory"),
            title_justify="left",
        )
        for c in (
            "λ",
            "A–S best γ ± SE",
            "γ*/λ",
            "linear-skew best k ± SE",
            "A–S λσ²T/2",
            "k*/(λσ²T/2)",
            "GLFT ω",
            "k*/ω",
            "U lost at λσ²T/2",
        ):
            t.add_column(c, justify="right")
        for r in a["rows"]:
            t.add_row(
                f"{r['lambda']:g}",
                _pm(r["as_best_gamma"], r["as_best_gamma_se"]) if r["as_best_gamma"] else r["as_note"],
                _pm(r["as_best_gamma_over_lambda"], r["as_best_gamma_over_lambda_se"]),
                _pm(r["ls_best_skew"], r["ls_best_skew_se"]) if r["ls_best_skew"] else r["ls_note"],
                f"{r['as_avg_slope']:.4g}",
                _pm(r["ls_best_over_as_avg"], r["ls_best_over_as_avg_se"]),
                f"{r['glft_omega']:.4g}",
                _pm(r["ls_best_over_glft"], r["ls_best_over_glft_se"]),
                _pm(r["utility_loss_at_as_slope"], r["utility_loss_at_as_slope_se"]),
            )
        con.print(t)
        con.print(
            f"units: λ and γ {_LAMBDA_UNIT}; k, ω in price units per lot; U in price units × lots. "
            f"SEs: jackknife over 16 sections of the paths (paired across points).",
            markup=False,
            highlight=False,
        )
    con.print(a["summary"], markup=False, highlight=False)


#: names that moved to :mod:`flatbook.sweep.objectives`, still importable from here (PEP 562;
#: lazy: start-up, as that module imports numpy)
_MOVED = {"FIGURES": "FIGURES", "_analyse": "analyse", "_point_obj": "point_object"}


def __getattr__(name: str) -> object:
    if name in _MOVED:
        from ..sweep import objectives

        return getattr(objectives, _MOVED[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
