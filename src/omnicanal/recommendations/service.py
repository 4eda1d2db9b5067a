"""Recommendations use cases: record baskets and returns from every channel, keep the
co-purchase model fresh, and answer "bought with" for exchanges, tills and offers.

The model is rebuilt from the ``reco_baskets`` tables (a few sparse products, see ``model``) and
cached in process per database under the version stamp those tables carry: a read whose stamp
matches the cache reuses it, a changed stamp rebuilds once. ``refresh`` (a background worker)
rebuilds ahead of the reads.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from omnicanal.recommendations import model
from omnicanal.recommendations.model import CoPurchaseModel
from omnicanal.recommendations.tables import (
    RecoBasketItemRow,
    RecoBasketRow,
    RecoReturnRow,
    RecoVersionRow,
)
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.ids import new_id
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork

VERSION_NAME = "co-purchase"
SOURCES = ("order", "till", "import")

_cache: dict[str, CoPurchaseModel] = {}
_cache_lock = threading.Lock()


# -- the model and its cache ------------------------------------------------------------------


def _cache_key(session: Session) -> str:
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    assert isinstance(engine, Engine)
    return f"{id(engine)}:{engine.url.render_as_string(hide_password=True)}"


def _current_version(session: Session) -> tuple[int, str]:
    row = session.execute(
        select(RecoVersionRow.version, RecoVersionRow.stamp).where(
            RecoVersionRow.name == VERSION_NAME
        )
    ).one_or_none()
    return (int(row[0]), str(row[1])) if row is not None else (0, "")


def _build(session: Session, version: int, stamp: str) -> CoPurchaseModel:
    pairs = session.execute(
        select(RecoBasketItemRow.basket_id, RecoBasketItemRow.sku)
        .join(RecoBasketRow, RecoBasketRow.id == RecoBasketItemRow.basket_id)
        .where(RecoBasketRow.active.is_(True))
    )
    return model.build_from_pairs(pairs, version=version, stamp=stamp)


def current_model(session: Session) -> CoPurchaseModel:
    """The model of the baskets as this session sees them: cached while the stamp holds."""
    version, stamp = _current_version(session)
    key = _cache_key(session)
    cached = _cache.get(key)
    if cached is not None and cached.stamp == stamp:
        return cached
    built = _build(session, version, stamp)
    with _cache_lock:
        _cache[key] = built
    return built


def rebuild(db: Database) -> CoPurchaseModel:
    """Rebuild the model from every active basket now (whatever the cache holds)."""
    with db.read() as session:
        version, stamp = _current_version(session)
        built = _build(session, version, stamp)
        key = _cache_key(session)
    with _cache_lock:
        _cache[key] = built
    return built


def refresh(db: Database) -> int:
    """Background worker: rebuild when the baskets changed since the cached model. Returns 1
    when it rebuilt, 0 when the model was current."""
    with db.read() as session:
        _, stamp = _current_version(session)
        cached = _cache.get(_cache_key(session))
    if cached is not None and cached.stamp == stamp:
        return 0
    rebuild(db)
    return 1


def _bump(uow: UnitOfWork) -> None:
    """Every change to the baskets moves the version in the same transaction."""
    now = uow.now()
    stamp = new_id("rcv")
    changed = uow.session.execute(
        update(RecoVersionRow)
        .where(RecoVersionRow.name == VERSION_NAME)
        .values(version=RecoVersionRow.version + 1, stamp=stamp, updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if not changed:
        uow.session.add(RecoVersionRow(name=VERSION_NAME, version=1, stamp=stamp, updated_at=now))
        uow.session.flush()


# -- exchange suggestions ---------------------------------------------------------------------


def bought_with(
    session: Session,
    skus: Sequence[str],
    *,
    limit: int = 5,
    exclude: Collection[str] = (),
) -> list[tuple[str, float]]:
    """SKUs often bought with ``skus`` on any channel, best first, as ``(sku, score)``: the
    score is the sum of cosine similarities (0 to ``len(skus)``). Never one of ``skus``, never
    in ``exclude``; an empty list when nothing was ever bought with them."""
    if limit < 0:
        raise InvalidInput("limit cannot be negative", field="limit", limit=limit)
    return model.bought_with(current_model(session), list(skus), limit=limit, exclude=exclude)


# -- recording purchases and returns ----------------------------------------------------------


@dataclass(frozen=True)
class Purchase:
    source: str  # order | till | import
    source_ref: str  # the order id, the till's receipt id, the history line's id
    channel: str
    skus: Sequence[tuple[str, int]]  # (sku, quantity)
    at: datetime
    customer_id: str | None = None
    store_id: str | None = None


def record_purchase(uow: UnitOfWork, purchase: Purchase) -> str | None:
    """Keep one basket; the same ``(source, source_ref)`` again is a no-op (returns None)."""
    if purchase.source not in SOURCES:
        raise InvalidInput(
            f"source must be one of {', '.join(SOURCES)}", field="source", source=purchase.source
        )
    quantities: dict[str, int] = {}
    for sku, quantity in purchase.skus:
        if quantity > 0:
            quantities[sku] = quantities.get(sku, 0) + quantity
    if not quantities:
        return None
    session = uow.session
    found = session.scalar(
        select(RecoBasketRow.id).where(
            RecoBasketRow.source == purchase.source,
            RecoBasketRow.source_ref == purchase.source_ref,
        )
    )
    if found is not None:
        return None
    basket_id = new_id("rcb")
    session.add(
        RecoBasketRow(
            id=basket_id,
            source=purchase.source,
            source_ref=purchase.source_ref,
            customer_id=purchase.customer_id,
            channel=purchase.channel,
            store_id=purchase.store_id,
            active=True,
            at=purchase.at,
        )
    )
    session.flush()
    session.add_all(
        RecoBasketItemRow(basket_id=basket_id, sku=sku, quantity=quantity)
        for sku, quantity in sorted(quantities.items())
    )
    _bump(uow)
    return basket_id


def set_purchase_active(uow: UnitOfWork, *, source: str, source_ref: str, active: bool) -> bool:
    """A cancelled order's basket stops counting (and counts again if it is reinstated)."""
    changed = uow.session.execute(
        update(RecoBasketRow)
        .where(
            RecoBasketRow.source == source,
            RecoBasketRow.source_ref == source_ref,
            RecoBasketRow.active.is_not(active),
        )
        .values(active=active)
    ).rowcount  # type: ignore[attr-defined]
    if changed:
        _bump(uow)
    return bool(changed)


def record_return(
    uow: UnitOfWork,
    *,
    return_id: str,
    skus: Iterable[tuple[str, str | None]],  # (sku, condition)
    at: datetime,
    customer_id: str | None = None,
    order_id: str | None = None,
) -> int:
    """Remember each returned SKU for its customer (taken from the order's basket when the
    return does not name one). Returns how many SKUs were new."""
    session = uow.session
    if customer_id is None and order_id is not None:
        customer_id = session.scalar(
            select(RecoBasketRow.customer_id).where(
                RecoBasketRow.source == "order", RecoBasketRow.source_ref == order_id
            )
        )
    known = set(
        session.scalars(select(RecoReturnRow.sku).where(RecoReturnRow.return_id == return_id))
    )
    added = 0
    for sku, condition in skus:
        if sku in known:
            continue
        known.add(sku)
        session.add(
            RecoReturnRow(
                return_id=return_id,
                sku=sku,
                customer_id=customer_id,
                order_id=order_id,
                condition=condition,
                at=at,
            )
        )
        added += 1
    return added


def follow_merge(uow: UnitOfWork, *, survivor_id: str, absorbed_ids: Sequence[str]) -> None:
    """A merged profile's baskets and returns become the survivor's history."""
    if not absorbed_ids:
        return
    absorbed = list(absorbed_ids)
    for table in (RecoBasketRow, RecoReturnRow):
        uow.session.execute(
            update(table).where(table.customer_id.in_(absorbed)).values(customer_id=survivor_id)
        )


def forget_customers(uow: UnitOfWork, customer_ids: Sequence[str]) -> None:
    """Erasure: baskets stay as anonymous co-purchase data, the returns list goes."""
    if not customer_ids:
        return
    ids = list(customer_ids)
    uow.session.execute(
        update(RecoBasketRow).where(RecoBasketRow.customer_id.in_(ids)).values(customer_id=None)
    )
    uow.session.execute(delete(RecoReturnRow).where(RecoReturnRow.customer_id.in_(ids)))
