"""Settling a received return: money back to the original payment, a credit note, or an
exchange order at the receiving store (handed over at the desk when the store has it)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from omnicanal.inventory import service as inventory
from omnicanal.inventory.tables import StockLevelRow
from omnicanal.orders import fulfilment
from omnicanal.orders import service as orders
from omnicanal.orders.model import Method
from omnicanal.orders.tables import FulfilmentGroupRow, OrderRow
from omnicanal.returns import events
from omnicanal.returns.model import exchange_balance
from omnicanal.returns.service import common_fields, original_payment
from omnicanal.returns.tables import CreditNoteRow, ReturnLineRow, ReturnRow
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.ids import new_id
from omnicanal.shared.money import Money
from omnicanal.storage.uow import UnitOfWork

DESK_PROVIDER = "store"  # no payment reference on the order: paid back at the desk
EXCHANGE_PROVIDER = "exchange"  # the value of returned units paying for an exchange order


def refund(
    uow: UnitOfWork,
    row: ReturnRow,
    order: OrderRow,
    lines: Sequence[ReturnLineRow],
    *,
    amount_minor: int,
) -> None:
    """Money back to the order's original payment: an ``order_payments`` row of kind
    ``refunded`` with the original provider and the refund's own reference."""
    if amount_minor <= 0:
        return
    paid = original_payment(uow.session, order.id)
    provider = paid.provider if paid else DESK_PROVIDER
    reference = f"refund-{row.id}"
    amount = Money(amount_minor, row.currency)
    orders.record_payment(
        uow, order, orders.PaymentRequest("refunded", provider, reference, amount)
    )
    row.money_refunded_minor = amount_minor
    row.payment_reference = paid.reference if paid else None
    row.refund_reference = reference
    uow.emit(
        events.RefundIssued(
            **common_fields(row, lines),
            amount=str(amount.amount),
            amount_minor=amount_minor,
            currency=row.currency,
            provider=provider,
            payment_reference=row.payment_reference or reference,
            refund_reference=reference,
        )
    )


def store_credit(uow: UnitOfWork, row: ReturnRow, lines: Sequence[ReturnLineRow]) -> None:
    note = CreditNoteRow(
        id=new_id("crn"),
        return_id=row.id,
        customer_id=row.customer_id,
        amount_minor=row.refund_minor,
        currency=row.currency,
        created_at=uow.now(),
    )
    uow.session.add(note)
    row.credit_note_id = note.id
    amount = Money(row.refund_minor, row.currency)
    uow.emit(
        events.StoreCreditIssued(
            **common_fields(row, lines),
            credit_note_id=note.id,
            amount=str(amount.amount),
            amount_minor=amount.minor,
            currency=row.currency,
        )
    )


def _in_stock_here(uow: UnitOfWork, location_id: str, wanted: dict[str, int]) -> bool:
    location = inventory.require_location(uow.session, location_id)
    if "pickup" not in (location.capabilities or []):
        return False
    levels = {
        level.sku: inventory.to_domain(level).available_to_promise
        for level in uow.session.scalars(
            select(StockLevelRow).where(
                StockLevelRow.location_id == location_id, StockLevelRow.sku.in_(list(wanted))
            )
        )
    }
    return all(levels.get(sku, 0) >= qty for sku, qty in wanted.items())


def exchange(
    uow: UnitOfWork, row: ReturnRow, order: OrderRow, lines: Sequence[ReturnLineRow]
) -> None:
    """A new order for the replacement items at the receiving store: click & collect handed
    over at once when the store has them (and nothing is left to pay), else home delivery to
    the original order's address. The returned value pays for it; a cheaper exchange refunds
    the difference, a dearer one leaves ``to_pay_minor`` for the till."""
    wanted: dict[str, int] = {}
    for ex in row.exchange_lines:
        wanted[str(ex["sku"])] = wanted.get(str(ex["sku"]), 0) + int(ex["quantity"])
    here = _in_stock_here(uow, row.location_id, wanted)
    if not here and not order.shipping_address:
        raise InvalidInput(
            "The receiving store does not have every exchange item and the original order has "
            "no delivery address: choose items the store has (GET /v1/returns/{id}/suggestions) "
            "or a refund.",
            field="exchange_lines",
        )
    method = Method.CLICK_AND_COLLECT if here else Method.HOME_DELIVERY
    placed = orders.place_order(
        uow,
        orders.OrderRequest(
            channel=row.channel,
            currency=row.currency,
            groups=[
                orders.GroupRequest(
                    method=method,
                    lines=[orders.LineRequest(sku, qty) for sku, qty in sorted(wanted.items())],
                    location_id=row.location_id if here else None,
                )
            ],
            store_id=row.location_id if here else None,
            customer_id=row.customer_id,
            contact=dict(order.contact or {}),
            shipping_address=None if here else order.shipping_address,
            locale=order.locale,
            actor=row.reviewed_by or row.requested_by,
        ),
    )
    new_order = placed.order
    money_back, to_pay = exchange_balance(row.refund_minor, new_order.total_minor)
    covered = min(row.refund_minor, new_order.total_minor)
    if covered > 0:
        orders.record_payment(
            uow,
            new_order,
            orders.PaymentRequest(
                "captured", EXCHANGE_PROVIDER, row.id, Money(covered, row.currency)
            ),
        )
    row.exchange_order_id = new_order.id
    row.to_pay_minor = to_pay
    if here:  # ready at the desk; handed over now unless the till must take a difference
        group_ids = list(
            uow.session.scalars(
                select(FulfilmentGroupRow.id).where(FulfilmentGroupRow.order_id == new_order.id)
            )
        )
        for group_id in group_ids:
            fulfilment.mark_ready(uow, group_id)
            if to_pay:
                continue
            group = uow.session.get(FulfilmentGroupRow, group_id)
            assert group is not None
            assert group.pickup_code is not None
            fulfilment.hand_over(uow, group_id, pickup_code=group.pickup_code)
    uow.emit(
        events.ExchangeCreated(
            **common_fields(row, lines),
            new_order_id=new_order.id,
            method=method.value,
            new_order_minor=new_order.total_minor,
            to_pay_minor=to_pay,
            currency=row.currency,
            new_skus=sorted(wanted),
        )
    )
    if money_back:
        refund(uow, row, order, lines, amount_minor=money_back)
