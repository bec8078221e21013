"""The strategy: the decisions around a policy's formula, one compiled implementation for every replaying engine.

The replay loop (:mod:`flatbook.backtest.engine`) inlines these functions; the live engine
(:mod:`flatbook.live.engine`) calls the same ones from Python, so the two make the same decisions on
the same tape (``tests/test_strategy_parity.py``), the way one Strategy runs in backtest and live.

- :mod:`.contract`  a contract's value in its settlement currency, prices in integer ticks;
- :mod:`.decide`    the policy's depths and the controls around the mid → the orders of both sides;
- :mod:`.requote`   when to decide again, which side to (re)send or cancel, the room under the limit;
- :mod:`.accrual`   financing of the position over an event gap;
- :mod:`.flatten`   the immediate-or-cancel order that flattens the position (end of session, exit).

The scalar rules (``requote``, ``accrual``, ``flatten``) are plain Python compiled by numba: the replay
inlines the compiled copy, the live engine calls the source itself (:func:`flatbook.policies.compile.python_form`), so each rule has
one body and both engines do the same IEEE arithmetic (no fastmath).
"""
