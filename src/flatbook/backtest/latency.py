"""Feed and order latencies: constant, drawn from a distribution, or measured from the tape.

A spec is a string, in milliseconds:

- ``"5"`` or ``"const:5"``: always 5 ms;
- ``"exp:5"``: exponential with mean 5 ms;
- ``"uniform:2,8"``: uniform on [2, 8] ms;
- ``"lognormal:5,0.5"``: lognormal with median 5 ms and log-sd 0.5;
- ``"measured"``: from the data's own stamps (:class:`MeasuredLatency`; tables with ``local_ts``,
  i.e. Binance captures): the feed leg per event from its stamps, the order (and response) leg
  drawn from the empirical distribution of those feed latencies by a seeded bootstrap;
  ``"measured:lognormal"``: the order leg drawn from a shifted lognormal fitted to it by MLE.

Draws come from ``numpy.random.Generator(PCG64(seed))``, one per event, so a
run is reproducible bit for bit.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..data.events import CODE_BOOK_TICKER, LEVEL, QUOTE, TRADE, EventTable
from ..errors import InputError

KINDS = ("const", "exp", "uniform", "lognormal", "measured")
_NARGS = {"const": 1, "exp": 1, "uniform": 2, "lognormal": 2, "measured": 0}
MEASURED = ("bootstrap", "lognormal")  # how "measured" draws the order leg
MAX_MS = 3_600_000.0
OFFSET_QUANTILE = 0.001  # the clock offset: this quantile of local − exchange time
_FIT_SAMPLE = 20_000  # at most this many latencies (every k-th) enter the MLE fit
KS_POOR = 0.1  # a lognormal fit with a larger Kolmogorov–Smirnov statistic gets a caveat


@dataclass(frozen=True)
class Latency:
    """A latency distribution in milliseconds (see the module docstring). ``measured``: ``a`` is 0 for
    the bootstrap, 1 for the fitted shifted lognormal."""

    kind: str
    a: float
    b: float = 0.0

    @classmethod
    def parse(cls, field: str, spec: str | float | int) -> Latency:
        """Parse a spec; a bad one raises :class:`InputError` naming ``field`` and the forms allowed."""
        allowed = (
            "allowed: MS, const:MS, exp:MEAN_MS, uniform:LO_MS,HI_MS, lognormal:MEDIAN_MS,LOG_SD, "
            "measured, measured:lognormal"
        )
        text = str(spec).strip()
        kind, sep, rest = text.partition(":")
        if not sep:
            kind, rest = ("const", text) if text.lower() not in KINDS else (text, "")
        kind = kind.strip().lower()
        if kind not in KINDS:
            raise InputError(field, f"unknown latency distribution {kind!r} in {text!r}; {allowed}")
        if kind == "measured":
            how = rest.strip().lower() or "bootstrap"
            if how not in MEASURED:
                raise InputError(field, f"measured:{rest.strip()} is not known in {text!r}; {allowed}")
            return cls("measured", float(MEASURED.index(how)))
        try:
            args = [float(x) for x in rest.split(",")] if rest.strip() else []
        except ValueError:
            raise InputError(field, f"not a number in {text!r}; {allowed}") from None
        if len(args) != _NARGS[kind] or not all(math.isfinite(x) and 0.0 <= x <= MAX_MS for x in args):
            raise InputError(field, f"{text!r} needs {_NARGS[kind]} number(s) from 0 to {MAX_MS:g} ms; {allowed}")
        if kind == "uniform" and args[0] > args[1]:
            raise InputError(field, f"uniform needs LO <= HI, got {text!r}")
        return cls(kind, args[0], args[1] if len(args) > 1 else 0.0)

    def draw_ns(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n latencies as int64 nanoseconds (``measured`` needs the table: :meth:`draw_events_ns`)."""
        if self.kind == "measured":
            raise InputError("--latency-ms", "measured latency needs a data table with local receive stamps")
        if self.kind == "const":
            ms = np.full(n, self.a)
        elif self.kind == "exp":
            ms = rng.exponential(self.a, n) if self.a > 0 else np.zeros(n)
        elif self.kind == "uniform":
            ms = rng.uniform(self.a, self.b, n)
        else:
            ms = self.a * np.exp(self.b * rng.standard_normal(n))
        return np.round(np.minimum(ms, MAX_MS) * 1e6).astype(np.int64)

    def draw_events_ns(self, ev: EventTable, rng: np.random.Generator, leg: str) -> np.ndarray:
        """One latency per row of ``ev`` as int64 ns: :meth:`draw_ns` (``len(ev)`` draws), or for
        ``measured`` the ``"feed"`` leg from the rows' own stamps (no draws) and the ``"order"`` or
        ``"response"`` leg drawn from :class:`MeasuredLatency`."""
        if self.kind != "measured":
            return self.draw_ns(len(ev), rng)
        m = MeasuredLatency.of(ev)
        return m.feed_ns() if leg == "feed" else m.draw_rows_ns(rng, fitted=self.a == 1)

    def describe(self) -> str:
        if self.kind == "measured":
            return "measured from the data's stamps" + (" (fitted shifted lognormal)" if self.a == 1 else "")
        if self.kind == "const":
            return f"{self.a:g} ms"
        if self.kind == "exp":
            return f"exponential, mean {self.a:g} ms"
        if self.kind == "uniform":
            return f"uniform {self.a:g}–{self.b:g} ms"
        return f"lognormal, median {self.a:g} ms, log-sd {self.b:g}"


@dataclass(frozen=True)
class MeasuredLatency:
    """Latency measured from a tape's two stamps per row: exchange time ``ts`` and local receive ``local_ts``.

    One-way stamps cannot separate the capture clock's offset from the latency: ``local − exchange`` =
    offset + latency. The offset is taken as the 0.1 % quantile of ``local − exchange`` over the rows
    that carry their own exchange time (``offset_ns``), i.e. the fastest 0.1 % of messages are
    assumed to have arrived with no latency; every figure here is the latency *beyond the fastest
    path* (on the bundled Binance captures the offset is ≈ −1.27 s: the capture clock ran behind
    the exchange). Exchange times are whole ms (``T``/``E``) while local stamps are ns, so each
    figure also carries the up-to-1 ms truncation of its exchange stamp.

    Spot bookTicker carries no exchange time: the loader estimates it as local − (median offset),
    so its rows are left out of the sample, and their feed latency is the sample's median (what
    the estimate assumes).

    On a Binance capture the sample is the bookTicker and trade rows only (not the LEVEL/CLEAR rows of
    ``book="depth"``), so the offset, the sample and the order leg's draws on those rows are the same
    with either book (:meth:`draw_rows_ns`). Other sources: one figure per message (a message's LEVEL
    rows, which repeat its stamps, count once).

    Attributes: ``sample_ms`` the measured feed latencies (ms, >= 0) of the sampled rows; ``main`` the
    rows that draw first (bookTicker and trade rows of a Binance capture, else every row);
    ``offset_ns``; the fitted shifted lognormal ``shape`` (log-sd), ``loc_ms``, ``scale_ms``
    (median − loc) by maximum likelihood (computed when first asked for) (``scipy.stats.lognorm.fit`` on at most 20 000 evenly
    spaced points), and its Kolmogorov–Smirnov statistic ``ks`` against the whole sample.
    """

    feed_ms: np.ndarray  # per row of the table, ms
    sample_ms: np.ndarray
    offset_ns: int
    estimated_rows: int
    main: np.ndarray | None = None  # None: every row

    @cached_property
    def _fitted(self) -> tuple[float, float, float, float]:
        return _fit(self.sample_ms)

    @property
    def shape(self) -> float:
        return self._fitted[0]

    @property
    def loc_ms(self) -> float:
        return self._fitted[1]

    @property
    def scale_ms(self) -> float:
        return self._fitted[2]

    @property
    def ks(self) -> float:
        return self._fitted[3]

    @classmethod
    def of(cls, ev: EventTable) -> MeasuredLatency:
        """Measure ``ev``; refuses a table without ``local_ts`` (:class:`InputError` naming ``--latency-ms``)."""
        if ev.local_ts is None:
            raise InputError(
                "--latency-ms",
                f"measured latency needs local receive stamps (local_ts), and this {ev.meta.source} table has none; "
                "allowed: a Binance capture (.gz), or a fixed spec such as 5 or lognormal:5,0.5",
            )
        d = ev.local_ts - ev.ts
        est = np.zeros(len(ev), bool)
        if ev.meta.source == "binance" and ev.meta.instrument.endswith("(spot)"):
            est = ev.code == CODE_BOOK_TICKER  # exchange time estimated from the local stamp
        main = None
        if ev.meta.source == "binance":  # bookTicker and trade rows: the same with book="touch" and "depth"
            main = (ev.kind == QUOTE) | (ev.kind == TRADE)
            same = ~main
            if main.all():
                main = None
        else:  # one figure per message: the 2nd, 3rd … LEVEL rows of one depth message repeat its stamps
            same = np.zeros(len(ev), bool)
            same[1:] = (ev.kind[1:] == LEVEL) & (ev.local_ts[1:] == ev.local_ts[:-1]) & (ev.ts[1:] == ev.ts[:-1])
        real = d[~est & ~same]
        if real.size < 2:
            raise InputError("--latency-ms", "measured latency needs at least 2 rows with an exchange time")
        offset = int(np.quantile(real, OFFSET_QUANTILE, method="lower"))
        feed = np.maximum(d - offset, 0) / 1e6
        sample = feed[~est & ~same]
        if est.any():
            feed[est] = float(np.median(sample))
        return cls(feed, sample, offset, int(est.sum()), main)

    def feed_ns(self) -> np.ndarray:
        """The feed leg per row, int64 ns."""
        return np.round(np.minimum(self.feed_ms, MAX_MS) * 1e6).astype(np.int64)

    def draw_ns(self, n: int, rng: np.random.Generator, fitted: bool = False) -> np.ndarray:
        """n order-entry (or response) latencies, int64 ns: a seeded bootstrap from the sample, or
        (``fitted``) draws of the fitted shifted lognormal, clipped at 0."""
        if fitted:
            ms = self.loc_ms + self.scale_ms * np.exp(self.shape * rng.standard_normal(n))
        else:
            ms = self.sample_ms[rng.integers(0, self.sample_ms.size, n)]
        return np.round(np.clip(ms, 0.0, MAX_MS) * 1e6).astype(np.int64)

    def draw_rows_ns(self, rng: np.random.Generator, fitted: bool = False) -> np.ndarray:
        """One order-entry latency per row of the table, int64 ns (:meth:`draw_ns`): the ``main`` rows
        (bookTicker and trades) draw first, in row order, then the others (LEVEL/CLEAR rows), so a seed gives
        the bookTicker and trade rows the same latencies with ``book="touch"`` and ``book="depth"``."""
        n = self.feed_ms.size
        if self.main is None:
            return self.draw_ns(n, rng, fitted)
        out = np.empty(n, np.int64)
        k = int(np.count_nonzero(self.main))
        out[self.main] = self.draw_ns(k, rng, fitted)
        out[~self.main] = self.draw_ns(n - k, rng, fitted)
        return out

    def quantiles_ms(self, qs=(0.01, 0.5, 0.99)) -> list[float]:
        return [float(x) for x in np.quantile(self.sample_ms, qs)]

    def summary(self) -> dict:
        """The fitted distribution for ``data inspect`` (ms), and ``latency_note``: what the figures leave
        out (spot bookTicker rows without exchange time) and a caveat when the fit is poor (KS > ``KS_POOR``)."""
        p1, p50, p99 = self.quantiles_ms()
        out: dict = {
            "latency_messages": int(self.sample_ms.size),
            "latency_offset_ms": self.offset_ns / 1e6,
            "latency_p1_ms": p1,
            "latency_p50_ms": p50,
            "latency_p99_ms": p99,
            "latency_model": "shifted lognormal (MLE)",
            "latency_lognormal_loc_ms": self.loc_ms,
            "latency_lognormal_median_ms": self.loc_ms + self.scale_ms,
            "latency_lognormal_log_sd": self.shape,
            "latency_ks": self.ks,
        }
        notes = self.notes()
        if notes:
            out["latency_note"] = " ".join(notes)
        return out

    def notes(self) -> list[str]:
        """One sentence per caveat: rows without exchange time, a poor lognormal fit."""
        notes = []
        if self.estimated_rows:
            notes.append(
                f"{self.estimated_rows:,} bookTicker rows carry no exchange time (Binance spot): they are left out "
                "of the sample and their feed latency is its median."
            )
        if self.ks > KS_POOR:
            notes.append(
                f"Heavy tail (KS {self.ks:.3f} > {KS_POOR:g}): the bootstrap (measured) follows the data; the "
                "lognormal fit (measured:lognormal) does not."
            )
        return notes

    def describe(self, order: Latency | None = None) -> dict:
        """What a backtest used (ms): the order leg's draw (``bootstrap`` of the sample or the fitted
        ``shifted lognormal``; None when the order leg is not measured), the clock offset, the sample's size and
        p1/p50/p99, the lognormal's parameters and KS statistic."""
        p1, p50, p99 = self.quantiles_ms()
        leg = None
        if order is not None and order.kind == "measured":
            leg = "fitted shifted lognormal" if order.a == 1 else "bootstrap of the sample"
        return {
            "order_leg": leg,
            "offset_ms": self.offset_ns / 1e6,
            "messages": int(self.sample_ms.size),
            "p1_ms": p1,
            "p50_ms": p50,
            "p99_ms": p99,
            "lognormal_loc_ms": self.loc_ms,
            "lognormal_median_ms": self.loc_ms + self.scale_ms,
            "lognormal_log_sd": self.shape,
            "ks": self.ks,
        }


def measured_options(ev: EventTable, feed: Latency, order: Latency) -> dict:
    """``{"latency_measured": MeasuredLatency.describe()}`` for a backtest's options when either leg is
    ``measured``, else ``{}``."""
    if feed.kind != "measured" and order.kind != "measured":
        return {}
    return {"latency_measured": MeasuredLatency.of(ev).describe(order)}


def _fit(x: np.ndarray) -> tuple[float, float, float, float]:
    """(shape, loc, scale, KS statistic) of a shifted lognormal fitted to ``x`` (ms) by MLE."""
    from scipy import stats  # lazy: start-up

    xs = x[:: max(1, x.size // _FIT_SAMPLE)]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shape, loc, scale = stats.lognorm.fit(xs)
        ks = stats.kstest(x, "lognorm", (shape, loc, scale)).statistic
    return float(shape), float(loc), float(scale), float(ks)


def check_measured(ev: EventTable, *latencies: Latency) -> None:
    """Refuse ``measured`` on a table without local receive stamps (before a long compile or replay)."""
    if any(lat.kind == "measured" for lat in latencies) and ev.local_ts is None:
        MeasuredLatency.of(ev)  # raises the InputError naming --latency-ms
