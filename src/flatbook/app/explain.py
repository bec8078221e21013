"""The explainer's texts: what each panel shows and what to notice in it.

Written for flatbook's app. Every number the page shows comes from flatbook's
own code (:func:`flatbook.policies.quote.quote`/``quotes`` and
:func:`flatbook.sim.simulator.simulate`); these texts only say where to look.
"""

from __future__ import annotations

TITLE = "flatbook · inventory skew, see it move"

INTRO = (
    "A market maker's fills arrive unpaired, so its inventory q (lots) wanders. Skewing the quotes "
    "against q makes the side that flattens the book the cheaper one to trade with, and the position "
    "drifts back toward zero. The left panel is one quote at the state you set; the right panel runs a "
    "session of order flow twice on the same random numbers, once with the skew off and once with it on. "
    "Start with a preset, then move one slider at a time."
)

MARKET = (
    "Market: the mid starts at 100 (price units); one market order of 1 lot arrives per time step "
    "(the time unit is one arrival; a session is 235 of them). An order fills your quote with probability "
    "min(1, e^(−k·δ)), δ being the quote's distance from the mid. With σ > 0 the mid moves as a random walk "
    "with σ price units per √arrival."
)

QUOTE_TITLE = "Quote panel: one state, live"
QUOTE_NOTICE = (
    "Go long (q > 0) with any skewing policy and both quotes fall: the ask moves toward, then through, "
    "the mid so buyers lift it and you sell down; the bid moves away so sellers hit it less and you stop "
    "adding. Go short and both rise. With 'Symmetric' nothing moves: the quotes ignore q.",
    "Skew = centre − mid. Linear skew shades the centre by skew strength × q. Avellaneda–Stoikov shades "
    "the reservation price by q·γσ²(T − t): raise γ or σ and the skew gets steeper; run T − t down to 0 "
    "and it fades out at the close. GLFT (closed form) shades by a constant per lot that also grows with "
    "γ and σ.",
    "Spread given up is |skew| per lot on the flattening side: how much worse than a flat book's quote "
    "you sell (when long) or buy (when short). It is the price of being pulled back to flat.",
    "Put q on the hard limit: the side that would grow the position reads 'not quoted'; only the "
    "flattening side is left.",
)

PATH_TITLE = "Path panel: skew off vs skew on, same flow"
PATH_NOTICE = (
    "Both lines face the same orders and the same fill draws (one seed, common random numbers); only the "
    "quoting differs. Skew off is symmetric quoting at the half-spread slider; skew on is the chosen "
    "policy (linear skew when the chosen policy is symmetric).",
    "Tilt the flow toward sells (imbalance < 0): with skew off the maker keeps buying and the path "
    "drifts long; with a limit it climbs to the dashed line and sticks there. With skew on it is pulled "
    "back and hovers at a level set by the imbalance.",
    "Raise the skew strength (or γ for A–S and GLFT): max |q| and the inventory std fall and, past small "
    "values, the spread given up climbs. Less inventory risk is paid for in spread.",
    "Skew makes a large position unlikely; the hard limit makes it impossible. Under a strong one-sided "
    "flow even the skewed path reaches the limit and is held there; set the limit to 'none' to see how "
    "far skew alone would let it go.",
)
PATH_FOOTNOTE = (
    "Readouts are means over {paths} paths of one session ({steps} arrivals). The plot shows path {index}, "
    "the skew-off side's typical path (its average q is the median), with the same orders for both lines. "
    "Spread given up adds |skew| per lot on fills that flatten the book and subtracts it on fills the skew "
    "leaned against (bought cheaper or sold dearer than a flat book would); it is negative when a one-sided "
    "flow forces many of the latter. PnL is cash plus inventory marked at the mid at the "
    "close, in price units × lots."
)

PRESET_NOTES = {
    "symmetric": (
        "Symmetric quoting under a 60/40 sell-heavy flow. The quote lines are flat in q: nothing leans "
        "against the position. The skew-off path random-walks and drifts long; compare its max |q| with "
        "the skew-on column."
    ),
    "linear-skew": (
        "Linear skew, k = 0.01 per lot, at q = +45 lots: centre = 100 − 0.01 × 45 = 99.55, so the "
        "quotes are 99.50 / 99.60 and the ask sits below the mid. On the same flow the skewed path "
        "hovers near flat while the symmetric one runs away."
    ),
    "avellaneda-stoikov": (
        "Avellaneda–Stoikov: the skew is q·γσ²(T − t). Raise γ and the skew steepens; move T − t toward "
        "0 and it fades out. A–S also sets its own spread from γ and k."
    ),
    "hard-limit": (
        "Linear skew with a hard limit of 30 lots under a one-sided flow (90% sells). At q = 30 the bid "
        "is not quoted, only the flattening ask. Skew alone cannot hold this flow (try limit 'none'); "
        "the limit caps the path at 30."
    ),
    "one-sided": (
        "Skew off under a one-sided flow (70% sells), limit 30. The symmetric maker keeps buying: the "
        "path climbs to the limit and sticks near it for much of the session. Switch the policy to "
        "linear skew and compare."
    ),
}

SLIDER_HELP = {
    "q": "the state of the quote panel",
    "gamma": "A–S and GLFT",
    "sigma": "A–S and GLFT; moves the mid in the path panel",
    "tau": "A–S (quote panel; in the path panel T − t runs down from 235)",
    "skew": "linear skew, and the skew-on path when the policy is symmetric",
    "half_spread": "symmetric and linear skew (the skew-off path always)",
    "k": "A–S and GLFT spreads; fill probability in the path panel",
    "limit": "both panels; the last stop (101, 'none') removes it",
    "flow_bias": "path panel; < 0 means more sells, so the maker gets long",
}

FOOTER = (
    "Every number comes from flatbook's own functions: flatbook.policies.quote for the quotes, "
    "flatbook.sim.simulator.simulate for the paths (the worked-example preset). Synthetic and "
    "educational; no P&L is promised. Served from this machine only; no internet assets."
)
