"""One error shape for every failure: ``{"error": {"code", "message", "field"}}``.

FastAPI's own validation and HTTP errors are rewritten into it, so clients parse
a single format whatever went wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """An error the client should see, with its HTTP status."""

    def __init__(self, status_code: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = ErrorDetail(code=code, message=message, field=field)


def error_content(detail: ErrorDetail) -> dict[str, Any]:
    """The JSON body of an error response or error stream message."""
    return ErrorBody(error=detail).model_dump()


def field_path(loc: Sequence[int | str]) -> str | None:
    """``("body", "items", 3, "text")`` -> ``"items.3.text"``; the request part is dropped."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts[:1]
    return ".".join(parts) or None


def validation_detail(errors: Sequence[Any]) -> ErrorDetail:
    """The first pydantic error as an ``ErrorDetail`` (its input is not echoed: it may hold personal data)."""
    if not errors:
        return ErrorDetail(code="invalid_request", message="invalid request")
    first = errors[0]
    kind = str(first.get("type", ""))
    loc = first.get("loc", ())
    if kind == "json_invalid":
        ctx = first.get("ctx") or {}
        return ErrorDetail(
            code="invalid_json", message=f"body is not valid JSON: {ctx.get('error', '')}", field="body"
        )
    if tuple(loc) == ("body",) and isinstance(first.get("input"), bytes):
        return ErrorDetail(
            code="invalid_body", message="expected a JSON body (Content-Type: application/json)", field="body"
        )
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if kind == "missing" and tuple(loc) == ("body",):
        message = "a JSON body is required"
    # A model-level check can say which of its fields is at fault (see schemas.CaseIn).
    sub_field = (first.get("ctx") or {}).get("field")
    if sub_field:
        loc = (*loc, sub_field)
    return ErrorDetail(code="invalid_field", message=message, field=field_path(loc))


_HTTP_CODES = {
    status.HTTP_400_BAD_REQUEST: "bad_request",
    status.HTTP_401_UNAUTHORIZED: "unauthorized",
    status.HTTP_403_FORBIDDEN: "forbidden",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_413_CONTENT_TOO_LARGE: "payload_too_large",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
}


async def _api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == status.HTTP_401_UNAUTHORIZED else None
    return JSONResponse(error_content(exc.detail), status_code=exc.status_code, headers=headers)


async def _validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = validation_detail(exc.errors())
    logger.info("rejected %s %s: %s at %s", request.method, request.url.path, detail.code, detail.field)
    return JSONResponse(error_content(detail), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    field = "body" if exc.status_code in (400, 413) else None
    detail = ErrorDetail(code=code, message=str(exc.detail), field=field)
    return JSONResponse(error_content(detail), status_code=exc.status_code, headers=exc.headers)


async def _unhandled_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    detail = ErrorDetail(code="internal_error", message="internal server error")
    return JSONResponse(error_content(detail), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(Exception, _unhandled_error_handler)
