"""The console's pages, one module per desk; refusals and domain errors become HTML pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from omnicanal.console.web import CsrfRefused, NotAllowed, SignInNeeded, current_page, url
from omnicanal.shared.errors import DomainError, ErrorKind

_STATUS = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.GONE: 410,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
}


def install(console: FastAPI) -> None:
    from omnicanal.console.pages import (
        aisle,
        auth,
        customers,
        dashboard,
        office,
        pickups,
        returns_desk,
    )

    for module in (auth, customers, aisle, pickups, returns_desk, dashboard, office):
        console.include_router(module.router)

    @console.exception_handler(SignInNeeded)
    def sign_in_first(request: Request, exc: SignInNeeded) -> Response:
        return RedirectResponse(url("/sign-in", next=exc.next_path), status_code=303)

    @console.exception_handler(NotAllowed)
    def not_allowed(request: Request, exc: NotAllowed) -> Response:
        page = current_page(request)
        return page.render("error.html", 403, title=page.t("error.forbidden"), detail=None)

    @console.exception_handler(CsrfRefused)
    def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        page = current_page(request)
        return page.render(
            "error.html", 403, title=page.t("error.csrf"), detail=page.t("error.csrf_detail")
        )

    @console.exception_handler(DomainError)
    def domain_error(request: Request, exc: DomainError) -> Response:
        page = current_page(request)
        status = _STATUS.get(exc.kind, 422)
        title = {
            403: "error.forbidden",
            404: "error.not_found",
            410: "error.gone",
        }.get(status, "error.refused")
        return page.render("error.html", status, title=page.t(title), detail=exc.detail)

    @console.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> Response:
        page = current_page(request)
        title = "error.not_found" if exc.status_code == 404 else "error.refused"
        return page.render("error.html", exc.status_code, title=page.t(title), detail=None)
