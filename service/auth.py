"""Optional API-key check: ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``.

A WebSocket may also pass ``?api_key=<key>`` (browsers cannot set its headers).

Off when no key is configured. ``/healthz`` and ``/readyz`` stay open for probes;
every ``/v1`` endpoint and ``/metrics`` need the key.
"""

from __future__ import annotations

import secrets

from pydantic import SecretStr
from starlette.datastructures import Headers

API_KEY_HEADER = "X-API-Key"
API_KEY_QUERY = "api_key"


def presented_key(headers: Headers, query_key: str | None = None) -> str | None:
    """The key a client presented, from the header, a bearer token or (WebSocket only) the query."""
    key = headers.get(API_KEY_HEADER)
    if key:
        return key
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return query_key or None


def is_authorized(configured: SecretStr | None, presented: str | None) -> bool:
    if configured is None:
        return True
    if presented is None:
        return False
    return secrets.compare_digest(presented.encode("utf-8"), configured.get_secret_value().encode("utf-8"))
