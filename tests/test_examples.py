"""Every example script runs, as a subprocess from the repository root, and prints its key figures.

The numbered scripts are a researcher's first hour (examples/0*.py); each runs here with few
paths so that the suite stays quick. ``basis_spot_perp.py`` is run by tests/test_basis.py and
``my_policy.py`` (a policy file, not a script) by tests/test_user_policy.py: any other example
must be added below, so that none can rot.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import REPO, shared_data

EXAMPLES = REPO / "examples"
RUN_ELSEWHERE = {
    "basis_spot_perp.py": "tests/test_basis.py",
    "my_policy.py": "tests/test_user_policy.py",
    "my_queue.py": "tests/test_queue_model.py",
}
BINANCE = "binance/usdm_btcusdt_20240808.gz"

#: script → (arguments, patterns its output must match)
SCRIPTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "01_compare_policies.py": (
        ("500",),
        (
            r"paired differences against avellaneda-stoikov \(common random numbers\)",
            r"glft\s+mean PnL\s+[-+]\d+\.\d{3} ± \d+\.\d{3} \(independent runs: ± \d+\.\d{3}\)",
            r"per-path table: 2,500 rows",
        ),
    ),
    "02_write_your_own_policy.py": (
        ("300",),
        (
            r"cubic = 0 equals linear-skew bit for bit: True",
            r"cubic_skew − glft: mean PnL [-+]\d",
            r"backtest cubic_skew: fills [\d,]+, q_std [\d.]+ BTC, pnl_final -?[\d.]+ USDT",
        ),
    ),
    "03_backtest_binance.py": (
        (),
        (
            # the default glft replay of the capture: these figures must not move (bit-identical numbers)
            r"glft\s+fills 2,996\s+pnl_final\s+-1921\.15 USDT\s+q_std 1\.421 BTC",
            r"linear-skew\s+fills [\d,]+\s+pnl_final",
            r"glft \(latency 5 ms\)\s+fills",
            r"saved: summary\.json, fills\.parquet, inventory\.parquet, six_panel\.png; report [\d.]+ MB",
        ),
    ),
    "04_calibrate_then_backtest.py": (
        ("40",),
        (
            r"volatility\.sigma_per_time_unit\s+7\.50244 USDT per √\(1 s\)",
            r"gamma\.achieved\s+[\d.]+ ± [\d.]+ BTC",
            r"backtest glft with the fitted parameters: fills [\d,]+",
        ),
    ),
    "my_ladder.py": ((), (r"level 3: bid 98\.9700 × 1\s+ask 100\.9700 × 2", r"simulate refuses it: policy three_l")),
    "my_market.py": (
        ("300",),
        (
            r"mid stage: ou_mid \{'kappa': 5\.0, 'mean': 100\.0, 'vol': 2\.0\}",
            r"glft: mean PnL\s+[-\d.]+ \(ABM\) ->\s+[-\d.]+ \(OU, κ = 5\), PnL std [\d.]+ -> [\d.]+ price units × lots",
            r"fill stage: power_law \{'A': 140\.0, 'k': 1\.5, 'alpha': 2\.0\}",
            r"glft: fills per path\s+[\d.]+ \(A·e\^\(−kδ\)\) ->\s+[\d.]+ \(power law\), mean PnL\s+[-\d.]+ ->\s+[-\d.]+ "
            r"price units × lots",
        ),
    ),
    "my_costs.py": (
        ("300",),
        (
            r"cost stage: bps_costs \{'fee_bps': -0\.5, 'funding': 0\.05\}",
            r"mean PnL [-\d.]+ -> [-\d.]+ price units × lots \(fees -[\d.]+, financing \+[\d.]+; fills per path "
            r"([\d.]+) -> \1\)",
        ),
    ),
    "my_impact.py": (
        ("300",),
        (
            r"impact stage: sqrt_impact \{'eps': 0\.05, 'y': 1\.0, 'gamma': 0\.5\}",
            r"hedge cost per path [\d.]+ -> [\d.]+, mean PnL [-\d.]+ -> [-\d.]+ price units × lots",
        ),
    ),
    "06_regime_table.py": (
        ("300",),
        (
            r"q = 5, regime 0: bid depth 0\.9298, ask depth 0\.4127 price units",
            r"q = 5, regime 1: bid depth 1\.4987, ask depth -0\.0528 price units",
            r"regime_glft − glft: mean PnL [-+]\d+\.\d{3} ± \d+\.\d{3}, std PnL [-+]\d+\.\d{3} ± \d+\.\d{3}",
        ),
    ),
    "05_sweep_frontier.py": (
        ("300",),
        (
            r"Pareto frontier \(pnl_std\): [\d., ]+",
            r"best mean–variance point: skew = [\d.]+, utility [\d.]+ ± [\d.]+ price units × lots",
        ),
    ),
    "07_hedged_replay.py": (
        ("120",),
        (
            r"ratio 1\.0000 \(given\), \d+ orders",
            r"ratio 0\.\d+ \(auto\), \d+ orders",
            r"variance reduction \(1 s\)\s+-?\d\.\d{3}\s+\(theory for this ratio \d\.\d{3}\)",
            r"pnl\.basis\s+-?\d+\.\d{4} USDT",
        ),
    ),
}


def test_every_example_is_run_somewhere():
    found = {p.name for p in EXAMPLES.glob("*.py")}
    assert found == set(SCRIPTS) | set(RUN_ELSEWHERE), found ^ (set(SCRIPTS) | set(RUN_ELSEWHERE))


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_example_runs_and_prints_its_figures(script, tmp_path):
    shared_data(BINANCE)  # several examples read the Binance capture
    args, patterns = SCRIPTS[script]
    r = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        cwd=tmp_path,
    )  # from elsewhere: the scripts resolve the data from the repo
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    for pat in patterns:
        assert re.search(pat, r.stdout), f"{script}: no match for {pat!r} in\n{r.stdout}"
    assert list(tmp_path.iterdir()) == []  # the scripts write no files
    if script == "01_compare_policies.py":  # the point of common random numbers, read off the output
        pairs = re.findall(r"mean PnL\s+[-+]\d+\.\d+ ± (\d+\.\d+) \(independent runs: ± (\d+\.\d+)\)", r.stdout)
        assert len(pairs) == 4 and all(float(paired) < float(unpaired) for paired, unpaired in pairs)
