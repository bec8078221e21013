"""Tests for flatbook.report.six_panel (the seed-000 section-5 six-panel figure)."""

from __future__ import annotations

import math
import re
import threading

import numpy as np
import pytest

from flatbook.report.six_panel import (
    MAX_LINE_POINTS,
    MAX_SCATTER_POINTS,
    REQUIRED_KEYS,
    _envelope,
    six_panel_figure,
    write_six_panel,
)
from flatbook.sim.metrics import stoll_regression

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_series(n: int = 500, seed: int = 0, limit: float = 10.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float) * 0.1
    mid = 100.0 + np.cumsum(rng.normal(0.0, 0.05, n))
    q = np.clip(np.cumsum(rng.choice([-1.0, 0.0, 1.0], size=n)), -limit, limit)
    half = 0.08 + 0.003 * np.abs(q) + rng.uniform(0.0, 0.01, n)  # spread widens with |q|: Stoll slope 0.006
    bid = mid - half
    ask = mid + half
    bid[q >= limit] = np.nan  # at the long hard limit we stop bidding
    bid[100:120] = np.nan  # plus an explicit gap
    ask[300:305] = np.nan
    pnl = np.cumsum(rng.normal(0.01, 0.2, n))
    return {"t": t, "mid": mid, "bid": bid, "ask": ask, "q": q, "pnl": pnl}


def constant_y_lines(ax) -> list[float]:
    """y values of horizontal lines (constant ydata) on an axes."""
    out = []
    for ln in ax.get_lines():
        y = np.asarray(ln.get_ydata(), dtype=float)
        if y.size and np.all(y == y[0]):
            out.append(float(y[0]))
    return out


# --------------------------------------------------------------------------- writing


def test_write_png_valid_and_figure_structure(tmp_path):
    series = make_series()
    assert np.isnan(series["bid"]).any()
    out = write_six_panel(tmp_path / "six.png", series, limit=10.0, zones=(4.0, 6.0, 8.0), title="synthetic")
    assert out == tmp_path / "six.png"
    assert out.is_file()
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert 20_000 < len(data) < 5_000_000
    # IHDR: width/height big-endian at bytes 16..24; 14x11 in at 120 dpi = 1680x1320
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert (width, height) == (1680, 1320)
    # no temp files left next to it
    assert [p.name for p in tmp_path.iterdir()] == ["six.png"]

    fig = six_panel_figure(series, limit=10.0, title="synthetic")
    axes = fig.get_axes()
    assert len(axes) == 6
    for ax in axes:
        assert ax.get_xlabel().strip()
        assert ax.get_ylabel().strip()
        assert ax.get_title().strip()
        assert re.search(r"\(.+\)", ax.get_ylabel()) or ax.get_ylabel() == "count"
    assert fig.get_suptitle() == "synthetic"
    assert axes[0].get_title() == "Mid price and quotes"
    assert axes[0].get_ylabel() == "price (price units)"
    assert axes[0].get_xlabel() == "time (time units)"
    assert axes[1].get_ylabel() == "inventory q (lots)"
    assert axes[4].get_ylabel() == "PnL (price units × lots)"
    w, h = fig.get_size_inches()
    assert (w, h) == (14.0, 11.0)
    assert fig.dpi == 120


def test_time_unit_in_time_axes():
    fig = six_panel_figure(make_series(), time_unit="s")
    labels = [ax.get_xlabel() for ax in fig.get_axes()]
    assert labels[0] == labels[1] == labels[2] == labels[4] == "time (s)"
    assert labels[3] == labels[5] == "inventory q (lots)"


def test_quote_gaps_preserved_and_spread_nan():
    series = make_series()
    fig = six_panel_figure(series)
    ax_px, _, ax_sp = fig.get_axes()[:3]
    bid_line = [ln for ln in ax_px.get_lines() if ln.get_label() == "our bid"][0]
    ydata = np.asarray(bid_line.get_ydata(), dtype=float)
    np.testing.assert_array_equal(np.isnan(ydata), np.isnan(series["bid"]))
    spread_y = np.asarray(ax_sp.get_lines()[0].get_ydata(), dtype=float)
    expected = series["ask"] - series["bid"]
    np.testing.assert_array_equal(np.isnan(spread_y), np.isnan(expected))
    np.testing.assert_allclose(spread_y[~np.isnan(spread_y)], expected[~np.isnan(expected)])


# --------------------------------------------------------------------------- Stoll fit


def test_stoll_fit_is_the_time_controlled_regression_on_finite_points():
    """Panel 4 draws flatbook.sim.metrics.stoll_regression (spread on |q − q*|, time held fixed)
    on the finite points: b = 0.006 per lot by construction; the legend prints b ± SE and the
    drawn line is level + b·(|q − q*| − mean |q − q*|), a V with its kink at q*."""
    series = make_series()
    fig = six_panel_figure(series, limit=10.0)
    q = series["q"]
    spread = series["ask"] - series["bid"]
    ok = np.isfinite(q) & np.isfinite(spread)
    assert 3 <= ok.sum() < q.size  # there really are non-finite points to drop
    fit = stoll_regression(q, spread, series["t"])
    assert fig.flatbook_stoll_fit == fit
    assert abs(fit.b - 0.006) < 4 * fit.se

    ax = fig.get_axes()[3]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    fit_text = [t for t in texts if "price units per lot of |q − q*|" in t]
    assert len(fit_text) == 1
    m = re.search(r"b = ([-+0-9.]+) ± ([0-9.]+) price units per lot", fit_text[0])
    assert m, fit_text[0]
    assert float(m.group(1)) == pytest.approx(fit.b, abs=float(m.group(2)) / 10)
    assert float(m.group(2)) == pytest.approx(fit.se, rel=0.1)

    fit_line = [ln for ln in ax.get_lines() if ln.get_gid() == "stoll_fit"][0]
    x = np.asarray(fit_line.get_xdata(), dtype=float)
    y = np.asarray(fit_line.get_ydata(), dtype=float)
    np.testing.assert_allclose(y, fit.level + fit.b * (np.abs(x) - fit.x_mean))
    assert list(x) == [q[ok].min(), 0.0, q[ok].max()]


@pytest.mark.parametrize(
    "q, spread",
    [
        (np.array([1.0, 2.0, np.nan, 3.0]), np.array([0.1, np.nan, 0.2, 0.3])),  # 2 finite points
        (np.full(50, 3.0), np.linspace(0.1, 0.2, 50)),  # zero variance in q
        (np.array([np.nan] * 5), np.array([np.nan] * 5)),  # nothing finite
    ],
)
def test_stoll_fit_skipped_without_error(q, spread):
    n = q.size
    assert stoll_regression(q, spread, np.arange(n, dtype=float)) is None
    mid = np.full(n, 100.0)
    series = {
        "t": np.arange(n, dtype=float),
        "mid": mid,
        "bid": mid - spread / 2,
        "ask": mid + spread / 2,
        "q": q,
        "pnl": np.zeros(n),
    }
    fig = six_panel_figure(series)
    assert fig.flatbook_stoll_fit is None
    ax = fig.get_axes()[3]
    assert not [ln for ln in ax.get_lines() if ln.get_gid() == "stoll_fit"]
    fig.canvas.draw()  # renders without error


# --------------------------------------------------------------------------- reference lines


def test_limit_and_zone_lines_when_finite():
    fig = six_panel_figure(make_series(), limit=10.0, zones=(4.0, 6.0, 8.0), q_target=1.0)
    ax = fig.get_axes()[1]
    ys = constant_y_lines(ax)
    for level in (10.0, -10.0, 4.0, -4.0, 6.0, -6.0, 8.0, -8.0, 1.0):
        assert level in ys, level
    limit_lines = [ln for ln in ax.get_lines() if ln.get_gid() == "hard_limit"]
    assert sorted(float(ln.get_ydata()[0]) for ln in limit_lines) == [-10.0, 10.0]
    for ln in limit_lines:
        assert ln.get_linestyle() == "--"
        assert ln.get_color() == "red"
    colours = {ln.get_gid(): ln.get_color() for ln in ax.get_lines() if ln.get_gid()}
    assert colours["yellow_zone"] == "gold"
    assert colours["red_zone"] == "red"
    assert colours["critical_zone"] == "darkred"
    target = [ln for ln in ax.get_lines() if ln.get_gid() == "q_target"][0]
    assert target.get_color() == "green" and target.get_linestyle() == ":"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "hard limit ±10" in labels
    # limit lines lie within the visible y range
    lo, hi = ax.get_ylim()
    assert lo <= -10.0 and hi >= 10.0


def test_limit_and_zone_lines_absent_when_infinite():
    fig = six_panel_figure(make_series(), q_target=0.0)  # defaults: limit and zones infinite
    ax = fig.get_axes()[1]
    ys = constant_y_lines(ax)
    assert ys == [0.0]  # only the target line
    assert not [
        ln for ln in ax.get_lines() if ln.get_gid() in {"hard_limit", "yellow_zone", "red_zone", "critical_zone"}
    ]
    for ln in ax.get_lines():
        assert np.all(np.isfinite(np.asarray(ln.get_ydata(), dtype=float)[~np.isnan(ln.get_ydata())]))

    # partially finite zones: only the finite ones are drawn
    fig = six_panel_figure(make_series(), limit=math.inf, zones=(5.0, math.inf, math.nan))
    ax = fig.get_axes()[1]
    assert sorted(constant_y_lines(ax)) == [-5.0, 0.0, 5.0]


# --------------------------------------------------------------------------- histogram


def test_histogram_uses_q_hist_with_mean_and_target():
    rng = np.random.default_rng(1)
    pooled = rng.integers(-20, 21, size=200_000).astype(float)  # large pooled sample
    pooled[:10] = np.nan  # non-finite values are ignored
    fig = six_panel_figure(make_series(), q_hist=pooled, q_target=2.0)
    ax = fig.get_axes()[5]
    total = sum(p.get_height() for p in ax.patches)
    assert total == np.isfinite(pooled).sum()
    mean_line = [ln for ln in ax.get_lines() if ln.get_gid() == "hist_mean"][0]
    target_line = [ln for ln in ax.get_lines() if ln.get_gid() == "hist_target"][0]
    expected_mean = np.nanmean(pooled)
    assert mean_line.get_xdata()[0] == pytest.approx(expected_mean)
    assert mean_line.get_color() == "red" and mean_line.get_linestyle() == "--"
    assert target_line.get_xdata()[0] == 2.0
    assert target_line.get_color() == "green" and target_line.get_linestyle() == "--"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(f"{expected_mean:.3g}" in lab for lab in labels)


def test_histogram_defaults_to_series_q():
    series = make_series()
    fig = six_panel_figure(series)
    ax = fig.get_axes()[5]
    assert sum(p.get_height() for p in ax.patches) == series["q"].size
    mean_line = [ln for ln in ax.get_lines() if ln.get_gid() == "hist_mean"][0]
    assert mean_line.get_xdata()[0] == pytest.approx(series["q"].mean())


# --------------------------------------------------------------------------- long series


def test_envelope_keeps_extremes_and_gaps():
    t = np.arange(10, dtype=float)
    y = np.arange(10, dtype=float)
    tt, yy = _envelope(t, y, max_points=100)
    assert tt is t and yy is y  # under budget: untouched

    n = 1_000_003  # not a multiple of the bucket size
    t = np.arange(n, dtype=float)
    y = np.sin(t / 5000.0)
    y[123_457] = 50.0  # isolated spikes must survive
    y[876_543] = -50.0
    y[400_000:500_000] = np.nan  # long gap must stay a gap
    tt, yy = _envelope(t, y, max_points=4000)
    assert tt.size <= 4000 and tt.size == yy.size
    assert np.all(np.diff(tt) >= 0)
    assert np.nanmax(yy) == 50.0 and np.nanmin(yy) == -50.0
    inside = (tt > 401_000) & (tt < 499_000)
    assert inside.any() and np.isnan(yy[inside]).all()
    assert not np.isnan(yy[(tt < 399_000) | (tt > 501_000)]).any()
    # every kept point is a real sample
    idx = tt.astype(int)
    np.testing.assert_array_equal(np.isnan(yy), np.isnan(y[idx]))
    np.testing.assert_array_equal(yy[~np.isnan(yy)], y[idx][~np.isnan(y[idx])])


def test_long_series_is_decimated_for_display_but_fit_uses_all_points(tmp_path):
    n = 120_000
    series = make_series(n, seed=7, limit=40.0)
    series["bid"][30_000:50_000] = np.nan
    fig = six_panel_figure(series, limit=40.0)
    ax = fig.flatbook_axes
    assert ax["depth"] is not None  # 0.16 wide quotes on a mid that wanders by ~20: a depth axis
    axes = [ax[k] for k in ("price", "inventory", "spread", "stoll", "pnl", "hist")]
    for ax in (axes[0], axes[1], axes[2], axes[4], fig.flatbook_axes["depth"]):
        for ln in ax.get_lines():
            assert len(ln.get_xdata()) <= MAX_LINE_POINTS
    bid_line = [ln for ln in axes[0].get_lines() if ln.get_label() == "our bid"][0]
    y = np.asarray(bid_line.get_ydata(), dtype=float)
    x = np.asarray(bid_line.get_xdata(), dtype=float)
    assert np.nanmax(y) == np.nanmax(series["bid"]) and np.nanmin(y) == np.nanmin(series["bid"])
    t = series["t"]
    assert np.isnan(y[(x > t[31_000]) & (x < t[49_000])]).all()
    q_line = axes[1].get_lines()[0]
    assert np.max(q_line.get_ydata()) == series["q"].max() and np.min(q_line.get_ydata()) == series["q"].min()

    (scatter,) = axes[3].collections
    assert len(scatter.get_offsets()) == MAX_SCATTER_POINTS
    q, spread = series["q"], series["ask"] - series["bid"]
    ok = np.isfinite(q) & np.isfinite(spread)
    assert fig.flatbook_stoll_fit == stoll_regression(q, spread, series["t"])  # every point, not the shown ones
    assert fig.flatbook_stoll_fit.n == ok.sum()
    assert sum(p.get_height() for p in axes[5].patches) == n  # histogram uses every sample

    out = write_six_panel(tmp_path / "long.png", series, limit=40.0)
    assert out.read_bytes()[:8] == PNG_MAGIC


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_missing_key_is_named(key, tmp_path):
    series = make_series(50)
    del series[key]
    with pytest.raises(ValueError, match=repr(key)):
        six_panel_figure(series)
    with pytest.raises(ValueError, match=repr(key)):
        write_six_panel(tmp_path / "x.png", series)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", [k for k in REQUIRED_KEYS if k != "t"])
def test_unequal_length_is_named(key):
    series = make_series(50)
    series[key] = series[key][:-1]
    with pytest.raises(ValueError, match=repr(key)):
        six_panel_figure(series)


def test_non_1d_is_named():
    series = make_series(50)
    series["pnl"] = series["pnl"].reshape(5, 10)
    with pytest.raises(ValueError, match="'pnl'"):
        six_panel_figure(series)


def test_bad_zones_rejected():
    with pytest.raises(ValueError, match="zones"):
        six_panel_figure(make_series(50), zones=(1.0, 2.0))


# --------------------------------------------------------------------------- atomic write


def test_atomic_write_missing_directory(tmp_path):
    target = tmp_path / "does-not-exist" / "fig.png"
    with pytest.raises(FileNotFoundError):
        write_six_panel(target, make_series(50))
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_failure_mid_render_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "fig.png"
    target.write_bytes(b"old contents")

    from matplotlib.figure import Figure

    real_savefig = Figure.savefig

    def exploding_savefig(self, fh, *args, **kwargs):
        fh.write(b"\x89PNG partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", exploding_savefig)
    with pytest.raises(RuntimeError, match="disk full"):
        write_six_panel(target, make_series(50))
    # previous file untouched, no temp litter
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]

    monkeypatch.setattr(Figure, "savefig", real_savefig)
    write_six_panel(target, make_series(50))
    assert target.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_concurrent_writes_from_threads(tmp_path):
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            write_six_panel(tmp_path / f"f{i}.png", make_series(200, seed=i), limit=10.0, title=f"run {i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"f{i}.png" for i in range(4)]
    for name in names:
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC


# --------------------------------------------------------------------------- paper-ready options


def test_units_histogram_labels_and_limit_in_histogram():
    fig = six_panel_figure(
        make_series(),
        limit=10.0,
        time_unit="s",
        price_unit="USDT",
        qty_unit="BTC",
        pnl_unit="USDT",
        hist_title="Final inventory over all paths",
        hist_ylabel="count (paths)",
    )
    ax_px, ax_q, ax_sp, ax_qs, ax_pnl, ax_hist = fig.get_axes()
    assert ax_px.get_ylabel() == "price (USDT)" and ax_sp.get_ylabel() == "spread ask − bid (USDT)"
    assert ax_q.get_ylabel() == ax_qs.get_xlabel() == ax_hist.get_xlabel() == "inventory q (BTC)"
    assert ax_pnl.get_ylabel() == "PnL (USDT)"
    assert any("USDT per BTC" in t.get_text() for t in ax_qs.get_legend().get_texts())
    assert ax_hist.get_title() == "Final inventory over all paths (n = 500)"
    assert ax_hist.get_ylabel() == "count (paths)"
    lim = sorted(float(ln.get_xdata()[0]) for ln in ax_hist.get_lines() if ln.get_gid() == "hist_limit")
    assert lim == [-10.0, 10.0]
    assert "hard limit ±10" in [t.get_text() for t in ax_hist.get_legend().get_texts()]
    fig = six_panel_figure(make_series())  # no finite limit: none drawn
    assert not [ln for ln in fig.get_axes()[5].get_lines() if ln.get_gid() == "hist_limit"]


def test_repeated_scatter_points_drawn_once_with_area_by_count():
    n = 400
    rng = np.random.default_rng(3)
    q = rng.choice(np.arange(-3.0, 4.0), n, p=[0.02, 0.08, 0.2, 0.4, 0.2, 0.08, 0.02])
    spread = np.where(np.abs(q) > 1, 0.15, 0.10)  # discrete q and spread: 7 distinct points
    mid = np.full(n, 100.0)
    series = {
        "t": np.arange(n, dtype=float),
        "mid": mid,
        "bid": mid - spread / 2,
        "ask": mid + spread / 2,
        "q": q,
        "pnl": np.zeros(n),
    }
    fig = six_panel_figure(series)
    (scatter,) = fig.get_axes()[3].collections
    assert len(scatter.get_offsets()) == 7
    sizes = scatter.get_sizes()
    _, counts = np.unique(q, return_counts=True)  # one spread per q here
    pts = scatter.get_offsets()[:, 0]
    order = np.argsort(pts)
    assert np.array_equal(np.argsort(sizes[order], kind="stable"), np.argsort(counts, kind="stable"))
    assert sizes.max() > 4 * sizes.min()  # area grows with the count
    assert fig.flatbook_stoll_fit is not None  # the fit still uses every point


@pytest.mark.parametrize("suffix, magic", [(".pdf", b"%PDF"), (".svg", b"<?xml"), (".png", PNG_MAGIC)])
def test_vector_formats_by_suffix(tmp_path, suffix, magic):
    out = write_six_panel(tmp_path / f"fig{suffix}", make_series(100), limit=10.0)
    assert out.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [f"fig{suffix}"]
