"""Security headers on every response (content security policy, HSTS, no sniffing, no
framing)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: An HTML page of ours: the package's own stylesheet and script, nothing inline, nothing
#: from another site; forms post only here.
HTML_CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


#: Anything else (JSON, PDF, XML, assets): nothing may be loaded or framed.
OTHER_CSP = "default-src 'none'; frame-ancestors 'none'"


HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeadersMiddleware:
    """Adds the usual security headers to every answer (a page may set its own CSP):
    ``nosniff``, no framing, no referrer, ``Cache-Control: no-store`` on answers to a
    request that carried credentials or asked for a token, and HSTS when the platform's
    public URL is HTTPS (it is then served behind a TLS proxy)."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope.get("headers") or ())
        private = b"authorization" in request_headers or b"cookie" in request_headers or \
            scope["path"].startswith("/api/v1/auth/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                ctype = dict(headers).get(b"content-type", b"")
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"no-referrer",
                    b"content-security-policy": (HTML_CSP if ctype.startswith(b"text/html")
                                                 else OTHER_CSP).encode(),
                }
                if private:
                    extra[b"cache-control"] = b"no-store"
                if self.https:
                    extra[b"strict-transport-security"] = HSTS.encode()
                headers += [(k, v) for k, v in extra.items() if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
