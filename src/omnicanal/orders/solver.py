"""The routing optimiser: split a basket over locations at least cost, with HiGHS (via SciPy).

Mixed-integer programme, for candidates l and lines i:
  minimise    sum_l y_l * (score_l + split_penalty)
  subject to  sum_l x_li = q_i                 (every unit served)
              x_li <= min(stock_li, q_i) * y_l (only from used locations, within their stock)
              sum_l y_l <= max_groups
  with x_li integer >= 0, y_l binary.
Used by ``orders.routing.route`` only when no single location has the whole basket.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from omnicanal.orders.routing import Assignment, Candidate, Demand, RoutingConfig, score

MAX_CANDIDATES = 40  # the cheapest ones with stock: keeps the programme small and fast


def solve(
    candidates: Sequence[Candidate], demand: Demand, config: RoutingConfig
) -> list[Assignment] | None:
    skus = sorted(demand.lines)
    pool = sorted(
        (c for c in candidates if any(c.stock.get(s, 0) > 0 for s in skus)),
        key=lambda c: (score(c, config), c.code),
    )[:MAX_CANDIDATES]
    if not pool:
        return None
    n_loc, n_sku = len(pool), len(skus)
    # caps[l, i]: units of line i location l can give; variables: x (n_loc*n_sku), then y (n_loc)
    caps = np.array(
        [[min(c.stock.get(sku, 0), demand.lines[sku]) for sku in skus] for c in pool], dtype=float
    )
    cost = np.concatenate(
        [np.zeros(n_loc * n_sku), [score(c, config) + config.split_penalty_minor for c in pool]]
    )
    upper = np.concatenate([caps.ravel(), np.ones(n_loc)])
    a, lower_b, upper_b = _constraints(caps, [demand.lines[s] for s in skus], config.max_groups)
    result = milp(
        cost,
        constraints=LinearConstraint(a.tocsr(), lower_b, upper_b),
        integrality=np.ones(len(cost)),
        bounds=Bounds(np.zeros(len(cost)), upper),
        options={"time_limit": 2.0},
    )
    if result.x is None or not result.success:
        return None
    units = np.rint(result.x[: n_loc * n_sku]).astype(int).reshape(n_loc, n_sku)
    assignments = [
        Assignment(
            c.location_id, {sku: int(units[loc, i]) for i, sku in enumerate(skus) if units[loc, i]}
        )
        for loc, c in enumerate(pool)
        if units[loc].any()
    ]
    return sorted(assignments, key=lambda a: a.location_id)


def _constraints(
    caps: np.ndarray[Any, Any], wanted: list[int], max_groups: int
) -> tuple[lil_matrix, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    n_loc, n_sku = caps.shape
    n_x = n_loc * n_sku
    rows = n_sku + n_x + 1
    a = lil_matrix((rows, n_x + n_loc))
    lower_b = np.full(rows, -np.inf)
    upper_b = np.zeros(rows)
    for i in range(n_sku):  # every unit served
        for loc in range(n_loc):
            a[i, loc * n_sku + i] = 1
        lower_b[i] = upper_b[i] = wanted[i]
    row = n_sku
    for loc in range(n_loc):  # units only from a used location, within its stock
        for i in range(n_sku):
            a[row, loc * n_sku + i] = 1
            a[row, n_x + loc] = -caps[loc, i]
            row += 1
    for loc in range(n_loc):  # at most max_groups parcels
        a[row, n_x + loc] = 1
    upper_b[row] = max_groups
    return a, lower_b, upper_b
