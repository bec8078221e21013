"""flatbook live: the quoting engine and the real-time inventory-risk monitor.

Where things are:

- :mod:`.settings`  LIVE.toml, validated;
- :mod:`.engine`    position, quotes (flatbook.strategy's compiled decision, as the replay's), orders, PnL attribution;
- :mod:`.risk`      pre-trade checks: hard limit (worst case), throttle, kill switch;
- :mod:`.journal`   the SQLite write-ahead journal; :mod:`.recovery` rebuilding from it;
- :mod:`.api`       the HTTP JSON API; :mod:`.metrics` Prometheus; :mod:`.alerts` log/feed/webhook;
- :mod:`.hedge_advice` the hedge recommendation;
- :mod:`.adapters`  feeds and venues (replay, paper, ccxt); :mod:`.runner` wires them for ``flatbook live``.
"""
