"""Request-body checks that FastAPI would otherwise answer without the usual error shape.

``BodyLimitMiddleware`` caps the body size (413), ``Utf8BodyRoute`` rejects bodies
that are not UTF-8 (400); both name ``body`` as the field.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ApiError, error_content


def too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"request body is larger than {max_bytes} bytes", "body")


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes``: at once from Content-Length, else while the route reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            error = too_large(self.max_bytes)
            await JSONResponse(error_content(error.detail), status_code=error.status_code)(
                scope, receive, send
            )
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large(self.max_bytes)  # inside the route, so the error handlers answer it
            return message

        await self.app(scope, limited_receive, send)


class Utf8BodyRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked_handler(request: Request) -> Response:
            body = await request.body()
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ApiError(
                    400, "invalid_utf8", f"body is not valid UTF-8 (byte {exc.start})", "body"
                ) from exc
            return await handler(request)

        return checked_handler
