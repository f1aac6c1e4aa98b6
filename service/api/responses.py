"""Error responses shared by the routes' OpenAPI descriptions."""

from __future__ import annotations

from typing import Any

from service.errors import ErrorBody

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong API key (when one is configured)"},
    422: {"model": ErrorBody, "description": "Invalid input; `field` names the offending field"},
    503: {"model": ErrorBody, "description": "The model is not loaded yet"},
}
