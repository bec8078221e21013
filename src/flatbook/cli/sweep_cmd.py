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

import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

from ..config import load_toml, parse_set
from ..errors import InputError
from ..params import PARAMS
from . import output
from .common import (
    DEFAULT_POLICY,
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
from .policy_file import PolicyFileOpt, load_policy_files
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


_LAMBDA_UNIT = "per (price unit × lot)"  # = flatbook.results.analysis.LAMBDA_UNIT (not imported: start-up)


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
    policy_file: PolicyFileOpt = None,
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
    load_policy_files(policy_file)  # before --policy, --set and --grid are read: the file's names and parameters join
    from ..api import analysis as A  # lazy: start-up (the sweep runner, numpy)

    # the flags, read and checked before any work (their own messages); the API checks the rest
    if objective not in A.OBJECTIVES:
        raise InputError("--objective", f"got {objective!r}; allowed: {', '.join(A.OBJECTIVES)}")
    n_workers = _int("--workers", workers, 1, 1024)
    per_task = _int("--points-per-task", points_per_task, 1, 1_000_000)
    n_random = _int("--random", random_, 1, 100_000)
    n_optuna = _int("--optuna", optuna_, 1, 100_000)
    if scheduler is not None:
        A.check_scheduler(scheduler)
        if n_workers is not None:
            raise InputError(
                "--workers", "sizes the local cluster only; the cluster at --scheduler has its own workers"
            )
    if study is not None:
        the_study = A.STUDIES.get(study)
        if the_study is None:
            raise InputError("--study", f"unknown study {study!r}; allowed: {', '.join(A.STUDIES)}")
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
        kw: dict[str, Any] = {"study": study, "paths": n, "seed": s, "risk_aversion": _lambda(risk_aversion, 0.1)}
    else:
        run = load_toml(config)[0] if config is not None else {}
        pol = policy if policy is not None else run.get("policy", DEFAULT_POLICY)
        if not isinstance(pol, str):
            raise InputError("run.policy", "a sweep takes one policy")
        if grid and n_random is not None and n_optuna is not None:
            raise InputError("--optuna", "choose one of --random and --optuna")
        kw = {
            "grid": list(grid or []),
            "preset": preset,
            "policy": pol,
            "paths": paths,
            "seed": seed,
            "params": parse_set(set_),
            "config": config,
            "random": n_random,
            "optuna": n_optuna,
        }
        if risk_aversion is not None:
            kw["risk_aversion"] = _lambda(risk_aversion, 0.0)
    out_dir = output.check_out_dir(out) if out is not None else None
    try:
        with _SweepBar() as bar, _sweep_errors():
            res = A.sweep(
                objective=objective,
                workers=n_workers,
                scheduler=scheduler,
                points_per_task=per_task,
                out=out_dir,
                cluster=True,
                status=bar.update,
                **kw,
            )
    except A.SweepInterrupted as e:
        sys.stderr.write(f"{e.saved} of {e.total or '?'} points saved in {e.out}; rerun the same command to resume\n")
        raise KeyboardInterrupt from None
    except A.SweepTaskError as e:
        raise ClickException(str(e)) from None
    if json_:
        _print_json(res)
        return
    _tables(
        res.summary_object(),
        res.points,
        list(res.keys),
        res.risk_aversion,
        objective,
        res.meta,
        res.study,
        res.written,
        out_dir,
    )


#: the API's keywords → the flags, in errors
_SWEEP_FLAGS = {
    "grid": "--grid",
    "optuna": "--optuna",
    "random": "--random",
    "risk_aversion": "--risk-aversion",
    "out": "--out",
    "dir": "--out",
    "preset": "--preset",
    "paths": "--paths",
    "seed": "--seed",
}


@contextmanager
def _sweep_errors() -> Iterator[None]:
    """An API error re-raised naming the flag (``grid skew=0:1`` → ``--grid skew=0:1``)."""
    try:
        yield
    except InputError as e:
        head, sep, rest = e.field.partition(" ")
        if head not in _SWEEP_FLAGS:
            raise
        msg = str(e)[len(e.field) + 2 :].replace("values for optuna", "values for --optuna")
        if msg.startswith("give at least one parameter to sweep"):
            msg = "give at least one parameter to sweep, e.g. --grid skew=0:0.05:6 (or --study skew-frontier)"
        raise InputError(_SWEEP_FLAGS[head] + sep + rest, msg) from None


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
    from ..results.analysis import sweep_title  # lazy: start-up (numpy)

    t = Table(title=Text(sweep_title(meta, lam) + note), title_justify="left")
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
