"""Item co-purchase: which SKUs are bought together, from baskets, with sparse matrices.

``X`` is the basket x item incidence matrix (1 when the basket holds the SKU); ``C = X.T @ X`` is
the item x item co-occurrence (``C[i, j]`` baskets holding both, ``C[i, i]`` baskets holding
``i``). Scores are cosine similarities ``C[i, j] / sqrt(C[i, i] * C[j, j])``: symmetric, in
``[0, 1]``, 1 when two SKUs are only ever bought together, and a best seller does not top every
list as it would with raw counts. The diagonal is dropped: a SKU never recommends itself.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class CoPurchaseModel:
    skus: tuple[str, ...]  # column order of the matrices
    index: Mapping[str, int]
    co_counts: sparse.csr_matrix  # C = X.T @ X, diagonal = baskets holding the SKU
    scores: sparse.csr_matrix  # cosine of C, zero diagonal
    baskets: int
    version: int = 0
    stamp: str = ""
    meta: Mapping[str, object] = field(default_factory=dict)

    def count(self, a: str, b: str) -> int:
        """Baskets holding both ``a`` and ``b`` (``count(a, a)``: baskets holding ``a``)."""
        i, j = self.index.get(a), self.index.get(b)
        if i is None or j is None:
            return 0
        return int(self.co_counts[i, j])

    def score(self, a: str, b: str) -> float:
        i, j = self.index.get(a), self.index.get(b)
        if i is None or j is None:
            return 0.0
        return float(self.scores[i, j])


def incidence(baskets: Sequence[Iterable[str]]) -> tuple[sparse.csr_matrix, tuple[str, ...]]:
    """The basket x item 0/1 matrix and its column SKUs (sorted): duplicates count once."""
    skus = sorted({sku for basket in baskets for sku in basket})
    index = {sku: i for i, sku in enumerate(skus)}
    rows: list[int] = []
    cols: list[int] = []
    for row, basket in enumerate(baskets):
        for sku in set(basket):
            rows.append(row)
            cols.append(index[sku])
    data = np.ones(len(rows), dtype=np.int64)
    matrix = sparse.csr_matrix(
        (data, (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
        shape=(len(baskets), len(skus)),
    )
    return matrix, tuple(skus)


def incidence_of_pairs(
    pairs: Iterable[tuple[str, str]],
) -> tuple[sparse.csr_matrix, tuple[str, ...]]:
    """The same matrix from ``(basket, sku)`` pairs as read from a table (no Python loop over
    baskets: ``np.unique`` numbers the baskets and the SKUs)."""
    listed = list(pairs)
    if not listed:
        return sparse.csr_matrix((0, 0), dtype=np.int64), ()
    keys = np.asarray([basket for basket, _ in listed], dtype=object)
    names = np.asarray([sku for _, sku in listed], dtype=object)
    basket_ids, rows = np.unique(keys, return_inverse=True)
    skus, cols = np.unique(names, return_inverse=True)
    matrix = sparse.csr_matrix(
        (np.ones(len(listed), dtype=np.int64), (rows, cols)),
        shape=(len(basket_ids), len(skus)),
    )
    matrix.data[:] = 1  # a SKU listed twice in a basket still counts once
    return matrix, tuple(str(sku) for sku in skus)


def cosine(co_counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """``D^-1/2 C D^-1/2`` with ``D`` the diagonal of ``C``; the diagonal itself is zeroed."""
    diagonal = co_counts.diagonal().astype(np.float64)
    inverse_root = np.zeros_like(diagonal)
    nonzero = diagonal > 0
    inverse_root[nonzero] = 1.0 / np.sqrt(diagonal[nonzero])
    scale = sparse.diags(inverse_root)
    scores = sparse.csr_matrix(scale @ co_counts.astype(np.float64) @ scale)
    scores.setdiag(0.0)
    scores.eliminate_zeros()
    return scores


def build(
    baskets: Sequence[Iterable[str]], *, version: int = 0, stamp: str = ""
) -> CoPurchaseModel:
    """The model of ``baskets`` (each an iterable of SKUs). Baskets of one SKU still count
    towards that SKU's popularity (the cosine's denominator)."""
    matrix, skus = incidence(baskets)
    return from_incidence(matrix, skus, version=version, stamp=stamp)


def build_from_pairs(
    pairs: Iterable[tuple[str, str]], *, version: int = 0, stamp: str = ""
) -> CoPurchaseModel:
    matrix, skus = incidence_of_pairs(pairs)
    return from_incidence(matrix, skus, version=version, stamp=stamp)


def from_incidence(
    matrix: sparse.csr_matrix, skus: tuple[str, ...], *, version: int, stamp: str
) -> CoPurchaseModel:
    co_counts = sparse.csr_matrix(matrix.T @ matrix)
    return CoPurchaseModel(
        skus=skus,
        index={sku: i for i, sku in enumerate(skus)},
        co_counts=co_counts,
        scores=cosine(co_counts),
        baskets=matrix.shape[0],
        version=version,
        stamp=stamp,
    )


def bought_with(
    model: CoPurchaseModel,
    skus: Sequence[str],
    *,
    limit: int = 5,
    exclude: Collection[str] = (),
    weights: Sequence[float] | None = None,
) -> list[tuple[str, float]]:
    """SKUs most bought with ``skus``: the (weighted) sum of their score rows, best first
    (ties by SKU), never one of ``skus`` nor of ``exclude``, never a zero score."""
    if limit <= 0:
        return []
    given = [
        (model.index[sku], weights[n] if weights is not None else 1.0)
        for n, sku in enumerate(skus)
        if sku in model.index
    ]
    if not given:
        return []
    rows = np.asarray([i for i, _ in given], dtype=np.int64)
    factors = np.asarray([w for _, w in given], dtype=np.float64)
    # one sparse product: the weighted sum of the given SKUs' score rows
    totals = np.asarray(model.scores[rows].T @ factors).ravel()
    banned = set(skus) | set(exclude)
    candidates = np.flatnonzero(totals > 0)
    ranked = sorted(
        ((model.skus[i], float(totals[i])) for i in candidates if model.skus[i] not in banned),
        key=lambda pair: (-pair[1], pair[0]),
    )
    return ranked[:limit]
