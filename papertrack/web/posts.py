"""Bounds on what a POST may send, in front of Datasette's CSRF check (`asgi_wrapper`).

asgi-csrf reads a form's whole body, and fails with an exception (HTTP 500) on a token
that is not ASCII (an `X-CSRFToken` header, on any path, cookies or not; a form's
`csrftoken`, whichever of several it reads) and on any multipart body (asgi-csrf 0.11
calls python-multipart with an argument it no longer takes). Nothing on this site takes
multipart forms. This wrapper, outside the check, answers those with 403 and 415 (and a
body over MAX_BODY with 413) instead, and hands every other request on with its body
replayed unchanged.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

MAX_BODY = 1024 * 1024  # bytes of a POST body
CSRF_HEADER = b"x-csrftoken"  # asgi-csrf's header, which it compares before anything else


def bounded(app):
    async def guarded(scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return await app(scope, receive, send)
        if any(name.lower() == CSRF_HEADER and not value.isascii() for name, value in scope.get("headers") or []):
            return await _answer(send, 403, "the X-CSRFToken header is wrong: reload the page and try again")
        headers = dict(scope.get("headers") or [])
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if kind == b"multipart/form-data":
            return await _answer(send, 415, "send forms as application/x-www-form-urlencoded")
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                return await _answer(send, 413, f"the request body is larger than {MAX_BODY:,} bytes")
        if kind == b"application/x-www-form-urlencoded":
            try:
                pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                return await _answer(send, 400, "the form is not UTF-8")
            # every one: the site reads the first, asgi-csrf the last that is not blank
            if not all(value.isascii() for key, value in pairs if key == "csrftoken"):
                return await _answer(send, 403, "the form's CSRF token is wrong: reload the page and try again")
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await app(scope, replay, send)

    return guarded


async def _answer(send, status: int, message: str) -> None:
    body = f"Error: {message}\n".encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
