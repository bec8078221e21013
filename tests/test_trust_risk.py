"""Issue 13 for ``flatbook risk`` / ``flatbook stress``: the historical method says where its history comes
from, and every size that sets an array's length is bounded by the memory available (one line, exit 2).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import tracemalloc

import numpy as np
import pytest

from conftest import REPO
from flatbook.errors import InputError
from flatbook.risk import memory as M
from flatbook.risk.book import book_from_dict, load_book
from flatbook.risk.greeks import book_greeks
from flatbook.risk.stress import liquidation_costs
from flatbook.risk.var import (
    book_var,
    historical_var,
    monte_carlo_var,
    simulated_history,
)

BOOK = REPO / "examples/books/two_stocks.toml"
SIMULATED = "historical (simulated history: no [history] file given)"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flatbook", *args], capture_output=True, text=True, timeout=300, cwd=REPO
    )


def book_dict() -> dict:
    return tomllib.loads(BOOK.read_text())


# --------------------------------------------------------------------------- the historical method's label
def test_historical_var_without_a_history_file_says_it_is_simulated():
    res = book_var(load_book(BOOK), methods=("historical",))["historical"]
    assert res.label == SIMULATED and res.as_dict()["label"] == SIMULATED
    assert "simulated normal history" in res.note and "not market history" in res.note
    r = cli("risk", "--config", str(BOOK), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["var"]["historical"]["label"] == SIMULATED and out["var"]["historical"]["method"] == "historical"
    assert "no [history] file given" in out["settings"]["history"]
    table = cli("risk", "--config", str(BOOK))
    assert table.returncode == 0 and "no [history]" in table.stdout  # rich markup does not eat [history]


def test_historical_var_from_a_file_names_the_file(tmp_path):
    rng = np.random.default_rng(3)
    changes = rng.normal(0.0, [1.5, 2.5], size=(300, 2))
    csv = tmp_path / "hist.csv"
    csv.write_text("AAA,BBB\n" + "\n".join(f"{float(a)!r},{float(b)!r}" for a, b in changes) + "\n")
    d = book_dict()
    d["history"] = {"file": "hist.csv", "kind": "changes"}
    book = book_from_dict(d, source=str(tmp_path / "book.toml"))
    res = book_var(book, methods=("historical",))["historical"]
    assert res.label == f"historical (from {csv})" and res.n_scenarios == 300
    # the numbers are those of the file's own changes (the label changes nothing else)
    ref = historical_var(book_greeks(book).exposure, changes, book.risk.confidence, book.risk.horizon)
    assert (res.var, res.es) == (ref.var, ref.es)


# --------------------------------------------------------------------------- memory bounds
HUGE = [
    (("risk", "--mc-scenarios", "10000000000"), None, "--mc-scenarios"),
    (("risk",), ("risk", "mc_scenarios", 10_000_000_000), "risk.mc_scenarios"),
    (("risk",), ("risk", "history_days", 100_000_000_000), "risk.history_days"),
    (("stress",), ("stress", "liquidation_steps", 1_000_000_000_000), "stress.liquidation_steps"),
]


@pytest.mark.parametrize("args, key, field", HUGE)
def test_a_size_beyond_memory_is_one_line_and_exit_2(tmp_path, args, key, field):
    d = BOOK.read_text()
    if key is not None:
        tab, k, v = key
        lines = d.splitlines()
        if f"[{tab}]" in lines:
            lines = [ln for ln in lines if not ln.startswith(f"{k} ")]
            lines.insert(lines.index(f"[{tab}]") + 1, f"{k} = {v}")
        d = "\n".join(lines) + "\n"
    cfg = tmp_path / "book.toml"
    cfg.write_text(d)
    r = cli(args[0], "--config", str(cfg), *args[1:])
    assert r.returncode == 2, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr and r.stdout == ""
    assert lines[0].startswith(f"error: {field}: ") and "would need" in lines[0] and "allowed at most" in lines[0]


def test_the_bound_is_the_largest_size_that_fits(monkeypatch):
    """With 1 GiB available, the refusal names the largest n whose bytes fit: n passes, n + 1 is refused."""
    monkeypatch.setattr(M, "available_bytes", lambda: 1 << 30)

    def need(n):
        return M.mc_bytes(n, 2, 0, 0.99)

    with pytest.raises(InputError) as e:
        M.require("risk.mc_scenarios", 10**9, need, "Monte Carlo scenarios")
    n_max = int(str(e.value).rsplit("allowed at most ", 1)[1].replace(",", ""))
    assert need(n_max) <= 1 << 30 < need(n_max + 1)
    M.require("risk.mc_scenarios", n_max, need, "Monte Carlo scenarios")
    with pytest.raises(InputError, match="allowed at most"):
        M.require("risk.mc_scenarios", n_max + 1, need, "Monte Carlo scenarios")
    assert "1.0 GiB available" in str(e.value) and f"{10**9:,} Monte Carlo scenarios would need" in str(e.value)


@pytest.mark.parametrize("key, field", [("mc_scenarios", "risk.mc_scenarios"), ("history_days", "risk.history_days")])
def test_the_book_loader_refuses_each_risk_size(monkeypatch, key, field):
    monkeypatch.setattr(M, "available_bytes", lambda: 300 << 20)
    d = book_dict()
    d["risk"][key] = 50_000_000
    with pytest.raises(InputError) as e:
        book_from_dict(d)
    assert e.value.field == field
    d["risk"][key] = 1000
    book_from_dict(d)  # a size that fits loads


def _peak(fn) -> int:
    """Peak bytes traced (numpy reports its buffers to tracemalloc) while ``fn()`` runs."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("d", [1, 3, 12])
def test_the_byte_estimates_bound_the_real_peak(d):
    """Each estimate is at least the peak memory the computation really allocates (and within 4× of it)."""
    rng = np.random.default_rng(d)
    a = rng.normal(size=(d, d))
    cov = a @ a.T + d * np.eye(d)
    w = rng.normal(size=d)
    n = 300_000
    got = _peak(lambda: monte_carlo_var(w, cov, 0.99, 1.0, n, 0))
    assert got <= M.mc_bytes(n, d, 0, 0.99) <= 4 * got + 4 * 8 * M.MC_CHUNK_VALUES
    days = 100_000
    got = _peak(lambda: historical_var(w, simulated_history(cov, days, 1), 0.99, 1.0))
    assert got <= M.history_bytes(days, d) <= 4 * got
    steps = 20_000
    X = rng.normal(size=d) * 100
    got = _peak(
        lambda: liquidation_costs(
            X, np.ones(d), np.full(d, 0.01), np.zeros(d), np.full(d, 1e4), steps=steps, risk_aversion=1e-3
        )
    )
    assert got <= M.liquidation_bytes(steps, d) <= 4 * got
