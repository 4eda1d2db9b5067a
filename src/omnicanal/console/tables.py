"""Console users (store associates and head office)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base


class ConsoleUserRow(Base):
    """A person who signs in to the console. An ``associate`` works in one store (``store_id``);
    ``head_office`` sees every store. Only a salted scrypt hash of the password is kept."""

    __tablename__ = "console_users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(5), default="en")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None]
    failed_attempts: Mapped[int] = mapped_column(default=0)  # wrong passwords in a row
    locked_until: Mapped[datetime | None]  # after too many, sign-in waits until then

    __table_args__ = (
        CheckConstraint("role IN ('associate', 'head_office')", name="role"),
        CheckConstraint(
            "(role = 'associate') = (store_id IS NOT NULL)", name="associate_has_store"
        ),
        CheckConstraint("language IN ('en', 'fr')", name="language"),
        Index("ix_console_users_store", "store_id"),
    )
