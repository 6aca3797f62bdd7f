"""Checks the schemathesis run adds to its own (loaded by `st run` as a hooks file).

- `error_answers_are_json_errors`: every answer of 400 or more is a JSON object with a string
  `error` (the one documented exception: `/readyz`'s 503 names its `reasons`).
- `malformed_requests_are_refused`: schemathesis' `negative_data_rejection` (a request that
  breaks the document gets a 4xx), except that on the routes the document marks
  `x-tickgate-refusal-status: 200` (IBKR's order routes) a refusal may be HTTP 200 with an
  `error` body: the engine met a reason to refuse the order before the malformed field.
- `undeclared_methods_are_405`: schemathesis' `unsupported_method` (a method the document does
  not list for a path gets 405 with `Allow`), except where another route serves that method
  on the same path: `DELETE /iserver/account/{a}/order/whatif` is a cancel of order "whatif"
  (`DELETE .../order/{id}`), answered as such, not a 404 or 405.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import UnsupportedMethodResponse
from schemathesis.specs.openapi.checks import negative_data_rejection, unsupported_method

from tickgate.server.openapi.document import REFUSAL_EXTENSION


def _error_text(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


@schemathesis.check
def error_answers_are_json_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code < 400 or (response.status_code == 503 and case.path == "/readyz"):
        return None
    if _error_text(response) is None:
        raise AssertionError(
            f"{response.status_code} answered without a JSON {{'error': ...}} body: "
            f"{response.text[:300]!r}"
        )
    return None


@schemathesis.check
def malformed_requests_are_refused(ctx: Any, response: Any, case: Any) -> bool | None:
    try:
        return negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData:
        refusal = case.operation.definition.raw.get(REFUSAL_EXTENSION)
        if refusal == response.status_code and _error_text(response) is not None:
            return None
        raise


@schemathesis.check
def undeclared_methods_are_405(ctx: Any, response: Any, case: Any) -> bool | None:
    try:
        return unsupported_method(ctx, response, case)
    except UnsupportedMethodResponse:
        # 404 (no route) or a 405 without `Allow` is a failure; any other answer came from
        # the route that serves this method on a path of the same shape.
        if response.status_code in (404, 405):
            raise
        return None
