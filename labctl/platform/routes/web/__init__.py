"""The HTTP surface shared by every route: error bodies that never echo secrets nor fail to
encode, strict JSON request bodies, security headers, the API docs served from installed
packages (a laboratory network has no internet), and a uvicorn protocol that answers oversized
request heads with a 431 instead of dropping the connection.

Modules: ``errors``, ``strict``, ``openapi``, ``headers``, ``docs``, ``limits``.
``labctl.api`` wires these in; nothing here knows a domain route.
"""

from labctl.platform.routes.web.docs import DOCS_ASSETS, DOCS_ASSETS_URL, add_docs
from labctl.platform.routes.web.errors import (
    error_response,
    field_errors,
    is_secret_name,
    safe_value,
    scrub,
    validation_body,
)
from labctl.platform.routes.web.headers import SecurityHeadersMiddleware
from labctl.platform.routes.web.limits import LimitedH11Protocol, uvicorn_options
from labctl.platform.routes.web.openapi import document_optional_auth, use_exact_decimal_schemas
from labctl.platform.routes.web.strict import StrictInputMiddleware

__all__ = ["DOCS_ASSETS", "DOCS_ASSETS_URL", "LimitedH11Protocol", "SecurityHeadersMiddleware",
           "StrictInputMiddleware", "add_docs", "document_optional_auth", "error_response",
           "field_errors", "is_secret_name", "safe_value", "scrub", "use_exact_decimal_schemas",
           "uvicorn_options", "validation_body"]
