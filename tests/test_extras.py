"""A command whose optional part is not installed says which extra to install: one line, exit 2.

Each case runs the real command line in a fresh interpreter in which the extra's module is
made unimportable (``sys.modules[name] = None``, which makes ``import name`` raise
ImportError and :func:`importlib.util.find_spec` return None), as on a slim install.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from flatbook.errors import InputError
from flatbook.extras import EXTRAS, MissingExtra, missing, require

ROOT = Path(__file__).resolve().parents[1]


def run_without(modules: tuple[str, ...], argv: list[str]) -> subprocess.CompletedProcess:
    code = (
        "import sys\n"
        f"for m in {list(modules)!r}: sys.modules[m] = None\n"
        "from flatbook.cli.entry import main\n"
        f"main({argv!r})\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.mark.parametrize(
    "modules, argv, field, extra",
    [
        (("dash",), ["app", "--port", "1"], "flatbook app", "app"),
        (("prometheus_client",), ["live", "--config", "nowhere.toml"], "flatbook live", "live"),
        (("plotly",), ["simulate", "--paths", "10", "--report", "r.html"], "--report", "report"),
        (("plotly",), ["report", "nowhere"], "flatbook report", "report"),
        (
            ("optuna",),
            ["sweep", "--grid", "skew=0:0.1", "--optuna", "4", "--policy", "linear-skew"],
            "--optuna",
            "sweep",
        ),
    ],
)
def test_missing_extra_is_one_line_and_exit_2(modules, argv, field, extra, tmp_path):
    r = run_without(modules, argv)
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    assert r.stderr == (
        f"error: {field}: needs {', '.join(modules)}, not installed; "
        f"install the extra: pip install 'flatbook[{extra}]'\n"
    )


def test_the_sweep_cluster_needs_distributed(tmp_path):
    r = run_without(
        ("distributed",),
        ["sweep", "--grid", "skew=0:0.1:2", "--policy", "linear-skew", "--paths", "10", "--out", str(tmp_path / "s")],
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [
        "error: flatbook sweep: needs distributed, not installed; install the extra: pip install 'flatbook[sweep]'"
    ]
    assert not (tmp_path / "s" / "sweep.json").exists()


def test_require_is_an_input_error_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ccxt", None)
    assert missing("live") == ("ccxt",)
    with pytest.raises(MissingExtra) as e:
        require("live", field="exchange_id")
    assert isinstance(e.value, InputError) and e.value.field == "exchange_id"
    assert e.value.extra == "live" and e.value.missing == ("ccxt",)
    require("live", "aiohttp")  # only the modules asked for are checked
    with pytest.raises(ValueError):
        require("no-such-extra")


def test_extras_in_pyproject_cover_the_modules_and_test_pulls_everything():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    opt = py["optional-dependencies"]
    dist = {"prometheus_client": "prometheus-client", "distributed": "dask[distributed]"}
    for extra, modules in EXTRAS.items():
        reqs = " ".join(opt[extra])
        for m in modules:
            assert dist.get(m, m) in reqs, (extra, m)
    test = " ".join(opt["test"])
    for extra in ("app", "live", "sweep", "docs", "report"):
        assert f"flatbook[{extra}]" in test or extra in test
    core = " ".join(py["dependencies"])
    for heavy in ("dash", "plotly", "ccxt", "aiohttp", "prometheus", "dask", "optuna", "mkdocs"):
        assert heavy not in core, heavy


def test_the_cli_starts_without_any_extra():
    """--help and a core command run with every optional module unimportable."""
    every = tuple(sorted({m for ms in EXTRAS.values() for m in ms}))
    r = run_without(every, ["--help"])
    assert r.returncode == 0 and "simulate" in r.stdout, r.stderr
    r = run_without(every, ["quote", "--q", "3", "--json"])
    assert r.returncode == 0 and '"half_spread"' in r.stdout, r.stderr
