"""Transfers between locations: draft → in_transit → received (or cancelled while a draft).

Shipping moves stock out of the source (``transfer_out``) and announces it at the destination
(``incoming`` via ``transfer_expected``); receiving turns incoming into on hand (``transfer_in``).
A shortfall at reception (lost or broken in transit) is recorded on the line and in the event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select

from omnicanal.inventory import events
from omnicanal.inventory.locks import lock_levels
from omnicanal.inventory.service import (
    Line,
    Reference,
    check_lines,
    record,
    require_location,
    require_skus,
    to_domain,
)
from omnicanal.inventory.tables import TransferLineRow, TransferRow
from omnicanal.shared.errors import Conflict, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.storage.uow import UnitOfWork


def create_transfer(
    uow: UnitOfWork,
    *,
    from_location_id: str,
    to_location_id: str,
    lines: Sequence[Line],
    reason: str | None = None,
) -> TransferRow:
    if from_location_id == to_location_id:
        raise InvalidInput(
            "A transfer goes between two different locations.", field="to_location_id"
        )
    ordered = check_lines(lines)
    require_location(uow.session, from_location_id)
    require_location(uow.session, to_location_id)
    require_skus(uow.session, (line.sku for line in ordered))
    transfer = TransferRow(
        id=new_id("trf"),
        from_location_id=from_location_id,
        to_location_id=to_location_id,
        status="draft",
        reason=reason,
        created_at=uow.now(),
    )
    uow.session.add(transfer)
    uow.session.flush()
    for line in ordered:
        uow.session.add(
            TransferLineRow(transfer_id=transfer.id, sku=line.sku, quantity=line.quantity)
        )
    return transfer


def transfer_lines(uow: UnitOfWork, transfer_id: str) -> list[TransferLineRow]:
    return list(
        uow.session.scalars(
            select(TransferLineRow)
            .where(TransferLineRow.transfer_id == transfer_id)
            .order_by(TransferLineRow.sku)
        )
    )


def _locked(uow: UnitOfWork, transfer_id: str, expected_status: str, action: str) -> TransferRow:
    transfer = uow.session.get(
        TransferRow, transfer_id, with_for_update=True, populate_existing=True
    )
    if transfer is None:
        raise NotFound(f"No transfer {transfer_id!r}.", field="transfer_id")
    if transfer.status != expected_status:
        raise Conflict(
            f"Transfer {transfer_id} is {transfer.status}; only a {expected_status} transfer can "
            f"be {action}.",
            code="transfer-state",
            transfer_status=transfer.status,
        )
    return transfer


def ship_transfer(uow: UnitOfWork, transfer_id: str, *, actor: str | None = None) -> TransferRow:
    transfer = _locked(uow, transfer_id, "draft", "shipped")
    lines = transfer_lines(uow, transfer_id)
    keys = [(line.sku, transfer.from_location_id) for line in lines] + [
        (line.sku, transfer.to_location_id) for line in lines
    ]
    rows = lock_levels(uow.session, keys, create=True)
    ref = Reference("transfer", transfer.id, transfer.reason)
    for line in lines:
        source = rows[(line.sku, transfer.from_location_id)]
        level = to_domain(source)
        before = level.available_to_promise
        record(uow, source, level, before, level.transfer_out(line.quantity), ref=ref, actor=actor)
        target = rows[(line.sku, transfer.to_location_id)]
        level = to_domain(target)
        before = level.available_to_promise
        record(uow, target, level, before, level.expect(line.quantity), ref=ref, actor=actor)
    transfer.status = "in_transit"
    transfer.shipped_at = uow.now()
    uow.emit(
        events.TransferShipped(
            transfer_id=transfer.id,
            from_location_id=transfer.from_location_id,
            to_location_id=transfer.to_location_id,
            lines=[{"sku": line.sku, "quantity": line.quantity} for line in lines],
        )
    )
    return transfer


def receive_transfer(
    uow: UnitOfWork,
    transfer_id: str,
    *,
    received: Mapping[str, int] | None = None,
    actor: str | None = None,
) -> TransferRow:
    """Receive a shipped transfer; ``received`` gives per-SKU counts when some units are missing."""
    transfer = _locked(uow, transfer_id, "in_transit", "received")
    lines = transfer_lines(uow, transfer_id)
    counts = dict(received or {})
    unknown = sorted(set(counts) - {line.sku for line in lines})
    if unknown:
        raise InvalidInput(f"SKU {unknown[0]} is not on transfer {transfer_id}.", field="received")
    rows = lock_levels(uow.session, [(line.sku, transfer.to_location_id) for line in lines])
    ref = Reference("transfer", transfer.id, transfer.reason)
    shortfall = 0
    for line in lines:
        got = counts.get(line.sku, line.quantity)
        row = rows[(line.sku, transfer.to_location_id)]
        level = to_domain(row)
        before = level.available_to_promise
        record(uow, row, level, before, level.transfer_in(got, line.quantity), ref=ref, actor=actor)
        line.received_quantity = got
        shortfall += line.quantity - got
    transfer.status = "received"
    transfer.received_at = uow.now()
    uow.emit(
        events.TransferReceived(
            transfer_id=transfer.id,
            to_location_id=transfer.to_location_id,
            lines=[
                {
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "received_quantity": line.received_quantity or 0,
                }
                for line in lines
            ],
            shortfall=shortfall,
        )
    )
    return transfer


def cancel_transfer(uow: UnitOfWork, transfer_id: str) -> TransferRow:
    transfer = _locked(uow, transfer_id, "draft", "cancelled")
    transfer.status = "cancelled"
    return transfer
