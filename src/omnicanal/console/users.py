"""Console users: creation, password check, language preference.

Passwords are hashed with scrypt (RFC 7914, stdlib) and a random 16-byte salt per user; the
stored form names its parameters so they can be raised later without breaking old hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.console.tables import ConsoleUserRow
from omnicanal.locations.tables import LocationRow
from omnicanal.shared.errors import Conflict, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.storage.uow import UnitOfWork

LANGUAGES = ("en", "fr")
MIN_PASSWORD = 10
MAX_FAILED_ATTEMPTS = 5
LOCK = timedelta(minutes=15)
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class Role(StrEnum):
    ASSOCIATE = "associate"  # works in one store
    HEAD_OFFICE = "head_office"  # sees every store, changes settings


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """Who is signed in, as the pages need it (no password hash)."""

    id: str
    email: str
    display_name: str
    role: Role
    store_id: str | None
    language: str

    @property
    def is_head_office(self) -> bool:
        return self.role is Role.HEAD_OFFICE


def as_user(row: ConsoleUserRow) -> ConsoleUser:
    return ConsoleUser(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        role=Role(row.role),
        store_id=row.store_id,
        language=row.language,
    )


# -- passwords ---------------------------------------------------------------------------------
def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def password_matches(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        given = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, given)


# A fixed hash to compare against when the email is unknown: both paths cost one scrypt.
_DECOY = hash_password(os.urandom(16).hex())


# -- use cases ---------------------------------------------------------------------------------
def _normalise_email(email: str) -> str:
    value = email.strip().lower()
    if "@" not in value or value.startswith("@") or value.endswith("@") or len(value) > 320:
        raise InvalidInput(f"{email!r} is not an email address.", field="email")
    return value


def check_language(language: str) -> str:
    value = language.strip().lower()[:2]
    if value not in LANGUAGES:
        raise InvalidInput(
            f"Language {language!r} is not offered; use {' or '.join(LANGUAGES)}.",
            field="language",
        )
    return value


def create_user(
    uow: UnitOfWork,
    *,
    email: str,
    display_name: str,
    password: str,
    role: str,
    store_id: str | None = None,
    language: str = "en",
) -> ConsoleUser:
    """A console account. An associate needs the store they work in; head office has none."""
    session = uow.session
    address = _normalise_email(email)
    try:
        kind = Role(role)
    except ValueError:
        raise InvalidInput(
            f"Role {role!r} is unknown; use associate or head_office.", field="role"
        ) from None
    if kind is Role.ASSOCIATE:
        if not store_id:
            raise InvalidInput("An associate works in one store: give store_id.", field="store_id")
        store = session.get(LocationRow, store_id)
        if store is None or store.kind != "store":
            raise NotFound(f"No store {store_id!r}; list them with GET /v1/locations?kind=store.")
    elif store_id:
        raise InvalidInput("Head office is not bound to a store; leave store_id out.")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"The password needs at least {MIN_PASSWORD} characters.", field="password"
        )
    name = display_name.strip()
    if not name:
        raise InvalidInput("Give the person's name as colleagues know it.", field="display_name")
    if session.scalar(select(ConsoleUserRow.id).where(ConsoleUserRow.email == address)):
        raise Conflict(f"A console user with email {address} exists already.", field="email")
    now = uow.now()
    row = ConsoleUserRow(
        id=new_id("usr"),
        email=address,
        display_name=name[:200],
        password_hash=hash_password(password),
        role=kind.value,
        store_id=store_id if kind is Role.ASSOCIATE else None,
        language=check_language(language),
        active=True,
        created_at=now,
        updated_at=now,
        last_sign_in_at=None,
        failed_attempts=0,
        locked_until=None,
    )
    session.add(row)
    session.flush()
    return as_user(row)


def authenticate(uow: UnitOfWork, *, email: str, password: str) -> ConsoleUser | None:
    """The user these credentials name, or None (unknown email and wrong password alike).

    After ``MAX_FAILED_ATTEMPTS`` wrong passwords in a row the account waits ``LOCK`` before
    any password is accepted again; the caller commits the count even though sign-in fails.
    """
    address = email.strip().lower()
    row = uow.session.scalar(
        select(ConsoleUserRow).where(ConsoleUserRow.email == address).with_for_update()
    )
    if row is None or not row.active:
        password_matches(_DECOY, password)
        return None
    now = uow.now()
    matches = password_matches(row.password_hash, password)
    if row.locked_until is not None and row.locked_until > now:
        return None
    if not matches:
        row.failed_attempts += 1
        if row.failed_attempts >= MAX_FAILED_ATTEMPTS:
            row.failed_attempts = 0
            row.locked_until = now + LOCK
        return None
    row.failed_attempts = 0
    row.locked_until = None
    row.last_sign_in_at = now
    return as_user(row)


def active_user(session: Session, user_id: str) -> ConsoleUser | None:
    row = session.get(ConsoleUserRow, user_id)
    return as_user(row) if row is not None and row.active else None


def set_language(uow: UnitOfWork, user_id: str, language: str) -> None:
    row = uow.session.get(ConsoleUserRow, user_id)
    if row is None:
        raise NotFound(f"No console user {user_id}.")
    row.language = check_language(language)
    row.updated_at = uow.now()


def list_users(session: Session) -> list[ConsoleUserRow]:
    return list(
        session.scalars(select(ConsoleUserRow).order_by(ConsoleUserRow.role, ConsoleUserRow.email))
    )
