"""Catalogue and locations services and CSV importers against the real database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from omnicanal.catalog import csv_io, service, views
from omnicanal.catalog.model import Assortment, ProductDraft, ProductStatus, VariantDraft
from omnicanal.catalog.tables import ProductRow, VariantRow
from omnicanal.events.tables import OutboxEventRow
from omnicanal.locations import csv_io as locations_csv
from omnicanal.shared.errors import Conflict
from omnicanal.shared.money import Money
from omnicanal.shared.tabular import ImportRejected, read_csv
from omnicanal.storage.database import Database


def product(sku: str, *, gtin: str | None = None, ref: str | None = None) -> ProductDraft:
    return ProductDraft.parse(
        title=f"Product {sku}",
        ref=ref,
        assortment="store_only",
        variants=(VariantDraft.parse(sku=sku, gtin=gtin),),
    )


def test_variant_info_for_other_contexts(db: Database) -> None:
    with db.uow() as uow:
        pid = service.create_product(uow, draft=product("A-1"))
        service.add_variant(uow, pid, draft=VariantDraft.parse(sku="A-2", status="archived"))
    with db.read() as session:
        info = views.variant_info(session, ["A-1", "A-2", "NOPE", "A-1"])
    assert set(info) == {"A-1", "A-2"}
    assert info["A-1"].product_id == pid
    assert info["A-1"].assortment is Assortment.STORE_ONLY
    assert info["A-1"].sellable_in("pos")
    assert not info["A-1"].sellable_in("web")
    assert info["A-2"].status is ProductStatus.ARCHIVED
    assert not info["A-2"].sellable_in("pos")


def test_a_conflict_rolls_back_the_whole_use_case(db: Database) -> None:
    with db.uow() as uow:
        service.create_product(uow, draft=product("A-1", gtin="73513537"))
    with pytest.raises(Conflict) as err, db.uow() as uow:
        service.create_product(uow, draft=product("B-1", gtin="73513537"))
    assert err.value.extensions["sku"] == "A-1"
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(ProductRow)) == 1
        assert session.scalar(select(func.count()).select_from(OutboxEventRow)) == 2


def test_setting_the_same_price_twice_emits_once(db: Database) -> None:
    with db.uow() as uow:
        service.create_product(uow, draft=product("A-1"))
        first = service.set_price(uow, sku="A-1", price=Money.of("9.99", "EUR"))
        again = service.set_price(uow, sku="A-1", price=Money.of("9.99", "EUR"))
    assert first.changed
    assert not again.changed
    with db.read() as session:
        types = session.scalars(select(OutboxEventRow.type)).all()
    assert types.count("catalog.price.changed") == 1


def rows(text: str) -> list[csv_io.CsvRow]:
    return read_csv(text, required=(), kind="test")


HEADER = "sku,gtin,product_ref,product_title\n"


def test_gtins_may_swap_between_skus_in_one_file(db: Database) -> None:
    with db.uow() as uow:
        csv_io.import_products(uow, rows(HEADER + "A,73513537,P,Pair\nB,4006381333931,P,Pair\n"))
    with db.uow() as uow:
        report = csv_io.import_products(
            uow, rows(HEADER + "A,4006381333931,P,Pair\nB,73513537,P,Pair\n")
        )
    assert report.updated == 2
    with db.read() as session:
        assert dict(session.execute(select(VariantRow.sku, VariantRow.gtin)).all()) == {
            "A": "4006381333931",
            "B": "73513537",
        }


def test_a_sku_cannot_move_to_another_product_and_a_taken_gtin_is_refused(db: Database) -> None:
    with db.uow() as uow:
        csv_io.import_products(uow, rows(HEADER + "A,73513537,P,Pair\nB,,Q,Other\n"))
    with pytest.raises(ImportRejected) as err, db.uow() as uow:
        csv_io.import_products(uow, rows(HEADER + "A,,Q,Other\nB,,Q,Other\n"))
    assert [(e.line, e.field) for e in err.value.report.errors] == [(2, "product_ref")]
    with pytest.raises(ImportRejected) as err, db.uow() as uow:
        csv_io.import_products(uow, rows(HEADER + "B,73513537,Q,Other\n"))
    assert [(e.line, e.field) for e in err.value.report.errors] == [(2, "gtin")]
    assert "SKU A" in err.value.report.errors[0].message
    with pytest.raises(ImportRejected) as err, db.uow() as uow:
        csv_io.import_products(uow, rows(HEADER + "C,,R,One\nD,,R,Two\n"))
    assert [(e.line, e.field) for e in err.value.report.errors] == [(3, "product_title")]


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_imports_batch_their_queries(db: Database) -> None:
    """No per-row SELECT: the number of statements does not grow with the rows."""
    n = 600
    products = HEADER + "".join(f"S-{i:04d},,P-{i // 2},Product {i // 2}\n" for i in range(n))
    prices = "sku,currency,amount\n" + "".join(f"S-{i:04d},EUR,{i}.50\n" for i in range(n))
    with counted(db) as statements, db.uow() as uow:
        report = csv_io.import_products(uow, rows(products))
        csv_io.import_prices(uow, rows(prices))
    assert report.created == n
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 12, selects
    with counted(db) as statements, db.uow() as uow:
        again = csv_io.import_products(uow, rows(products.replace("Product", "Item")))
    assert again.updated == n // 2  # one product change per group, on its first row
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 12


def test_location_import_updates_by_code(db: Database) -> None:
    header = "code,name,kind,latitude,longitude,city\n"
    with db.uow() as uow:
        locations_csv.import_locations(uow, rows(header + "S-1,One,store,48.1,2.1,Paris\n"))
    with db.uow() as uow:
        report = locations_csv.import_locations(
            uow, rows(header + "S-1,One bis,store,48.1,2.1,Paris\nS-2,Two,relay_point,45,4,Lyon\n")
        )
    assert (report.created, report.updated) == (1, 1)
    with pytest.raises(ImportRejected) as err, db.uow() as uow:
        locations_csv.import_locations(
            uow, rows(header + "S-3,Three,store,north,2,Paris\nS-4,,depot,1,2,X\n")
        )
    assert [(e.line, e.field) for e in err.value.report.errors] == [
        (2, "latitude"),
        (3, "name"),
    ]
