"""Every error the gateway returns has one shape: ``{"error": {"code": str, "message": str}}``.

``ApiError`` is raised by routes; the handlers below also turn the knowledge and records packages'
errors (their trees in ``knowledge/errors.py`` and ``records/errors.py``, mapped to statuses here and
nowhere else), FastAPI's validation
errors, JSON decoding errors and unexpected exceptions into that shape, so a client never sees a stack
trace or an HTML error page.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from knowledge.errors import (
    Conflict,
    CorpusError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    Invalid,
    KnowledgeError,
    NotFound,
    QueryError,
)
from records import errors as records_errors

logger = logging.getLogger(__name__)

# pydantic error types we raise ourselves carry their own code.
_OWN_CODES = {"empty_message", "message_too_long", "invalid_session_id"}
# The knowledge package's error tree -> HTTP status (the first matching class wins).
KNOWLEDGE_STATUS: tuple[tuple[type[KnowledgeError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (Invalid, 422),
    (CorpusError, 422),
    (QueryError, 422),
    (IndexMissingError, 503),
    (IndexCorruptError, 503),
    (IndexMismatchError, 503),
)


# The records package's error tree -> HTTP status.
RECORDS_STATUS: tuple[tuple[type[records_errors.RecordsError], int], ...] = (
    (records_errors.NotFound, 404),
    (records_errors.Conflict, 409),
    (records_errors.Invalid, 422),
)


def knowledge_status(exc: KnowledgeError | records_errors.RecordsError) -> int:
    table: tuple[tuple[type[Exception], int], ...] = (*KNOWLEDGE_STATUS, *RECORDS_STATUS)
    return next((status for cls, status in table if isinstance(exc, cls)), 500)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _describe(errors: list[dict[str, Any]]) -> tuple[str, str]:
    first = errors[0]
    kind = str(first.get("type", ""))
    if kind in _OWN_CODES:
        return kind, str(first.get("msg", "")).removeprefix("Value error, ")
    if kind in ("json_invalid", "json_type"):
        return "invalid_json", "the request body is not valid JSON (UTF-8 encoded)"
    if kind == "model_attributes_type" or (kind == "dict_type" and tuple(first.get("loc", ())) == ("body",)):
        return "invalid_json", "the request body must be a JSON object"
    problems = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        problems.append(f"{loc}: {msg}")
    return "invalid_request", "; ".join(problems)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(KnowledgeError)
    @app.exception_handler(records_errors.RecordsError)
    async def _knowledge(request: Request, exc: KnowledgeError | records_errors.RecordsError) -> JSONResponse:
        status = knowledge_status(exc)
        if status >= 500:
            logger.error("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(error_body(exc.code, str(exc)), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = _describe(list(exc.errors()))
        status = 400 if code == "invalid_json" else 422
        return JSONResponse(error_body(code, message), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not decode the body (e.g. not UTF-8)
            return JSONResponse(
                error_body("invalid_json", "the request body is not valid JSON (UTF-8 encoded)"), status_code=400
            )
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 401: "unauthorized", 403: "forbidden"}
        return JSONResponse(
            error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", "something went wrong on our side; the error has been logged"),
            status_code=500,
        )
