"""The console's web plumbing: templates, the signed session, CSRF, who may see what.

The session is Starlette's signed cookie (itsdangerous) scoped to ``/console``: it holds the
user id, a CSRF token, the language and one flash message, never personal data. Every page
loads the user again from the database, so a disabled account stops working at once.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData

from omnicanal.console.i18n import Translator, translator
from omnicanal.console.users import ConsoleUser, Role, active_user
from omnicanal.orders.wording import pick_locale
from omnicanal.storage.database import Database

PREFIX = "/console"
HERE = Path(__file__).parent
_ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html", "svg"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES = Jinja2Templates(env=_ENV)


def url(path: str = "", **query: object) -> str:
    """``url("/pickups", q="x")`` -> ``/console/pickups?q=x`` (None values left out)."""
    found = {k: v for k, v in query.items() if v is not None and v != ""}
    tail = "&".join(f"{quote(k)}={quote(str(v), safe='')}" for k, v in found.items())
    return f"{PREFIX}{path}" + (f"?{tail}" if tail else "")


_ENV.globals["url"] = url


def when(value: datetime | str | None) -> str:
    """An instant as staff read it: ``2026-11-23 09:00 UTC``."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_ENV.filters["when"] = when


# -- refusals the app turns into pages -------------------------------------------------------
class SignInNeeded(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class NotAllowed(Exception):
    """The signed-in user's role or store does not allow this (a 403 page)."""


class CsrfRefused(Exception):
    """A form POST without the session's token (a 403 page)."""


# -- the request's context -------------------------------------------------------------------
@dataclass
class Page:
    """Everything a template needs about the request: who, which language, the CSRF token."""

    request: Request
    db: Database
    user: ConsoleUser | None
    lang: str
    t: Translator
    csrf_token: str
    flash: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def store_id(self) -> str:
        """The associate's store (only called on associate pages)."""
        if self.user is None or self.user.store_id is None:
            raise NotAllowed()
        return self.user.store_id

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        context = {
            "request": self.request,
            "page": self,
            "user": self.user,
            "lang": self.lang,
            "t": self.t,
            "csrf_token": self.csrf_token,
            "flash": self.flash,
            **values,
        }
        return TEMPLATES.TemplateResponse(self.request, template, context, status_code=status_code)

    def redirect(
        self, path: str, *, flash: str | None = None, error: str | None = None
    ) -> Response:
        if flash or error:
            self.request.session["flash"] = {
                "kind": "error" if error else "ok",
                "text": error or flash or "",
            }
        return RedirectResponse(path, status_code=303)


def _csrf(session: dict[str, Any]) -> str:
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def language_of(request: Request, user: ConsoleUser | None) -> str:
    if user is not None:
        return user.language
    chosen = request.session.get("lang")
    if isinstance(chosen, str) and chosen in ("en", "fr"):
        return chosen
    return pick_locale(request.headers.get("accept-language"))


def current_page(request: Request) -> Page:
    db: Database = request.app.state.db
    session = request.session
    user: ConsoleUser | None = None
    uid = session.get("uid")
    if isinstance(uid, str):
        with db.read() as read:
            user = active_user(read, uid)
        if user is None:
            session.pop("uid", None)
    lang = language_of(request, user)
    flash = session.pop("flash", None)
    return Page(
        request=request,
        db=db,
        user=user,
        lang=lang,
        t=translator(lang),
        csrf_token=_csrf(session),
        flash=flash if isinstance(flash, dict) else None,
    )


def _wanted(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def signed_in(page: Annotated[Page, Depends(current_page)]) -> Page:
    if page.user is None:
        raise SignInNeeded(_wanted(page.request))
    return page


def associate(page: Annotated[Page, Depends(signed_in)]) -> Page:
    assert page.user is not None
    if page.user.role is not Role.ASSOCIATE or page.user.store_id is None:
        raise NotAllowed()
    return page


def head_office(page: Annotated[Page, Depends(signed_in)]) -> Page:
    assert page.user is not None
    if page.user.role is not Role.HEAD_OFFICE:
        raise NotAllowed()
    return page


AnyPage = Annotated[Page, Depends(current_page)]
UserPage = Annotated[Page, Depends(signed_in)]
StorePage = Annotated[Page, Depends(associate)]
OfficePage = Annotated[Page, Depends(head_office)]


# -- forms -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Form:
    """A posted form whose CSRF token matched the session's."""

    data: FormData

    def get(self, name: str, default: str = "") -> str:
        value = self.data.get(name)
        return value.strip() if isinstance(value, str) else default

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.data.getlist(name) if isinstance(v, str)]

    def number(self, name: str, default: int = 0) -> int:
        raw = self.get(name)
        try:
            return int(raw) if raw else default
        except ValueError:
            return default

    def items(self) -> Mapping[str, str]:
        return {k: v for k, v in self.data.items() if isinstance(v, str)}


async def checked_form(request: Request) -> Form:
    data = await request.form()
    sent = data.get("csrf_token")
    expected = request.session.get("csrf")
    if (
        not isinstance(sent, str)
        or not isinstance(expected, str)
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise CsrfRefused()
    return Form(data)


PostedForm = Annotated[Form, Depends(checked_form)]
