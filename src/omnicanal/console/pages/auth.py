"""Sign-in, sign-out, the language switch and the landing page of each role."""

from __future__ import annotations

import secrets

from fastapi import APIRouter
from fastapi.responses import Response

from omnicanal.console.users import (
    LOCK,
    MAX_FAILED_ATTEMPTS,
    authenticate,
    check_language,
    set_language,
)
from omnicanal.console.web import AnyPage, PostedForm, url
from omnicanal.shared.errors import InvalidInput

router = APIRouter()


def _safe_next(value: str) -> str:
    """Only paths inside the console: never an open redirect."""
    if value.startswith("/console/") and not value.startswith("//") and "\\" not in value:
        return value
    return url("/")


@router.get("/")
def home(page: AnyPage) -> Response:
    if page.user is None:
        return page.redirect(url("/sign-in"))
    return page.redirect(url("/dashboard" if page.user.is_head_office else "/customers"))


@router.get("/sign-in")
def sign_in_form(page: AnyPage, next: str = "") -> Response:
    return page.render("sign_in.html", next=next, email="", failed=False)


@router.post("/sign-in")
def sign_in(page: AnyPage, form: PostedForm) -> Response:
    email = form.get("email")
    with page.db.uow() as uow:
        user = authenticate(uow, email=email, password=form.get("password"))
    if user is None:
        return page.render(
            "sign_in.html",
            status_code=401,
            next=form.get("next"),
            email=email,
            failed=True,
            lock_attempts=MAX_FAILED_ATTEMPTS,
            lock_minutes=int(LOCK.total_seconds() // 60),
        )
    session = page.request.session
    session.clear()  # a new session for the signed-in user: no fixation
    session["uid"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)
    session["lang"] = user.language
    landing = "/dashboard" if user.is_head_office else "/customers"
    wanted = form.get("next")
    return page.redirect(_safe_next(wanted) if wanted else url(landing))


@router.post("/sign-out")
def sign_out(page: AnyPage, form: PostedForm) -> Response:
    lang = page.lang
    page.request.session.clear()
    page.request.session["lang"] = lang
    return page.redirect(url("/sign-in"))


@router.post("/language")
def switch_language(page: AnyPage, form: PostedForm) -> Response:
    try:
        lang = check_language(form.get("lang"))
    except InvalidInput:
        lang = page.lang
    page.request.session["lang"] = lang
    if page.user is not None:
        with page.db.uow() as uow:
            set_language(uow, page.user.id, lang)
    return page.redirect(_safe_next(form.get("next")))
