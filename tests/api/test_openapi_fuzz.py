"""Schemathesis against the app's own OpenAPI document, in process (ASGI, no server): generated
requests to every operation, valid and invalid, with an admin key and an Idempotency-Key. No
request may end in a 5xx; every error is an RFC 9457 problem (``application/problem+json`` with
type, title, status, detail); responses conform to the documented schema and content type.

Each operation runs its own Hypothesis search from ``APIOperation.as_strategy`` (schemathesis's
``from_fixture`` pytest loader does not run under this pytest). Deterministic for CI
(``derandomize``); ``OMNICANAL_FUZZ_EXAMPLES`` per operation and mode keeps the whole run under
three minutes on a two-core machine — raise it locally to dig deeper.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.conftest import MakeKey

EXAMPLES = int(os.environ.get("OMNICANAL_FUZZ_EXAMPLES", "7"))
PROBLEM_FIELDS = ("type", "title", "status", "detail")


def problem_details(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx is an RFC 9457 problem a client can act on."""
    if response.status_code < 400:
        return None
    media = response.headers.get("content-type", [""])
    media = media[0] if isinstance(media, list) else media
    assert media.startswith("application/problem+json"), (
        f"{response.status_code} answered as {media!r}, not application/problem+json"
    )
    body = response.json()
    missing = [k for k in PROBLEM_FIELDS if not body.get(k)]
    assert not missing, f"problem without {missing}: {body}"
    assert body["status"] == response.status_code, body
    return True


def on_success(check: Any) -> Any:
    """FastAPI documents every 422 as ``application/json`` (its HTTPValidationError) while the
    API answers errors as problems: errors are held to ``problem_details``, successes to the
    documented schema and content type."""

    def success_only(ctx: Any, response: Any, case: Any) -> bool | None:
        if response.status_code >= 400:
            return None
        result: bool | None = check(ctx, response, case)
        return result

    success_only.__name__ = f"{check.__name__}_on_success"
    return success_only


CHECKS = [
    not_a_server_error,
    problem_details,
    on_success(response_schema_conformance),
    on_success(content_type_conformance),
]


class Fuzz:
    """Runs the searches; keeps the requests sent and one reproducible failure per run."""

    def __init__(self, admin: dict[str, str]) -> None:
        self.admin = admin
        self.sent: Counter[str] = Counter()
        self.failures: dict[str, str] = {}

    def search(self, operation: Any, mode: GenerationMode) -> None:
        label = f"{operation.label} ({mode.value})"

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            if label in self.failures:
                return  # one reproducible failure per operation and mode is enough
            headers = {**self.admin, "Idempotency-Key": str(uuid.uuid4())}
            if isinstance(case.query, dict) and "wait" in case.query:
                case.query["wait"] = 0  # the feed's long poll would only measure sleeping
            self.sent[label] += 1
            answer = "no answer"
            try:
                response = case.call(headers=headers)
                answer = f"{response.status_code} {response.text[:300]}"
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (Exception, BaseExceptionGroup) as failure:  # all reported at the end
                self.failures[label] = (
                    f"{failure}\n  reproduce: {case.as_curl_command(headers=headers)}\n"
                    f"  answer: {answer}"
                )

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE, label


def test_every_operation_answers_without_5xx_and_with_problem_details(
    client: TestClient, make_key: MakeKey
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    fuzz = Fuzz(make_key("admin"))
    started = time.monotonic()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI document is invalid: {result}"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz.search(result.ok(), mode)
    elapsed = time.monotonic() - started
    total = sum(fuzz.sent.values())
    print(
        f"\nschemathesis: {total} requests, {len(fuzz.sent)} operation x mode runs, {elapsed:.0f} s"
    )
    assert total >= 1000, f"only {total} requests generated"
    assert not fuzz.failures, "\n\n".join(f"{k}: {v}" for k, v in sorted(fuzz.failures.items()))


def test_a_nul_byte_in_a_query_is_a_problem_not_a_server_error(
    client: TestClient, make_key: MakeKey
) -> None:
    """Found by the run above on PostgreSQL (which refuses NUL inside text): a 500 before."""
    response = client.get(
        "/v1/returns/suggestions",
        headers=make_key("admin"),
        params={"location_id": "loc_1", "skus": ["SOCKS", "N\x00L"]},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "skus[1]"
