"""Shared FastAPI dependencies: database, principal, scopes, idempotent writes."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnicanal.auth.model import Principal
from omnicanal.idempotency import service as idempotency
from omnicanal.settings import Settings
from omnicanal.shared.errors import Forbidden, InvalidInput
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork

_bearer = HTTPBearer(auto_error=False, description="An omnicanal API key: ock_…")


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    principal: Principal = request.app.state.authenticator.authenticate(
        credentials.credentials if credentials else None
    )
    return principal


def require(scope: str) -> Callable[..., Principal]:
    def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.has_scope(scope):
            raise Forbidden(
                f"The key '{principal.name}' ({principal.channel.value}) lacks the '{scope}' "
                "scope; ask an administrator for a key that has it.",
                code="missing-scope",
                required_scope=scope,
            )
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


def check_store(principal: Principal, location_id: str) -> None:
    """A store-associate key acts on its own store only."""
    if not principal.may_act_on_store(location_id):
        raise Forbidden(
            f"This key is bound to store {principal.store_id}; it cannot act on {location_id}.",
            code="wrong-store",
            store_id=principal.store_id,
        )


class Write:
    """Runs one use case in a unit of work, honouring ``Idempotency-Key``.

    The first successful response is stored in the same transaction as the change; the same key
    and body later returns it again (header ``Idempotent-Replayed: true``); the same key with
    another body is a 422. Errors are not stored: bad input changed nothing, so a retry may run.
    """

    def __init__(
        self,
        *,
        db: Database,
        principal: Principal,
        key: str | None,
        fingerprint: str,
        method: str,
        path: str,
    ) -> None:
        self.db = db
        self.principal = principal
        self.key = key
        self.fingerprint = fingerprint
        self.method = method
        self.path = path

    def run(self, use_case: Callable[[UnitOfWork], Any], *, status_code: int = 200) -> JSONResponse:
        try:
            with self.db.uow() as uow:
                if self.key:
                    # looked up in the write transaction itself: no extra round trip first
                    replay = self._replay(uow.session)
                    if replay is not None:
                        return replay
                body = jsonable_encoder(use_case(uow))
                if self.key:
                    idempotency.record(
                        uow.session,
                        api_key_id=self.principal.key_id,
                        key=self.key,
                        request_hash=self.fingerprint,
                        method=self.method,
                        path=self.path,
                        status_code=status_code,
                        body=body,
                        now=uow.now(),
                    )
        except IntegrityError:
            # Two requests with one key raced: the loser replays the winner's answer.
            replay = self._replay() if self.key else None
            if replay is None:
                raise
            return replay
        return JSONResponse(body, status_code=status_code)

    def _replay(self, session: Session | None = None) -> JSONResponse | None:
        assert self.key is not None
        if session is None:
            with self.db.read() as fresh:
                found = idempotency.find(fresh, self.principal.key_id, self.key)
        else:
            found = idempotency.find(session, self.principal.key_id, self.key)
        if found is None:
            return None
        if found.request_hash != self.fingerprint:
            raise InvalidInput(
                "This Idempotency-Key was already used with a different request; use a new key "
                "for a new request.",
                code="idempotency-key-reused",
                field="Idempotency-Key",
            )
        return JSONResponse(
            found.body, status_code=found.status_code, headers={"Idempotent-Replayed": "true"}
        )


def writer(scope: str) -> Callable[..., Coroutine[Any, Any, Write]]:
    scoped = require(scope)

    async def dependency(
        request: Request,
        # a default, not Annotated: the closure variable cannot be resolved from a string
        principal: Principal = Depends(scoped),
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                description="A unique key per logical request; a retry with the same key and "
                "body returns the first response and changes nothing.",
            ),
        ] = None,
    ) -> Write:
        settings: Settings = request.app.state.settings
        if idempotency_key is None:
            if (
                request.method == "POST"
                and principal.channel in settings.idempotency_required_channels
            ):
                raise InvalidInput(
                    f"Writes from the {principal.channel.value} channel must carry an "
                    "Idempotency-Key header (a UUID per logical request) so retries are safe.",
                    code="idempotency-key-required",
                    field="Idempotency-Key",
                )
        else:
            idempotency.check_key(idempotency_key)
        body = await request.body()
        return Write(
            db=request.app.state.db,
            principal=principal,
            key=idempotency_key,
            fingerprint=idempotency.request_fingerprint(request.method, request.url.path, body),
            method=request.method,
            path=request.url.path,
        )

    dependency.__name__ = f"write_{scope.replace(':', '_')}"
    return dependency
