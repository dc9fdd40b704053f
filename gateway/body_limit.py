"""A cap on the whole request body: 413 problem+json before a route reads (or the multipart parser
spools) more than the cap.

A declared Content-Length over the cap is answered at once, without reading the body; a body without
one (chunked) is counted as it is received and refused as soon as it passes the cap. FastAPI's own
`max_body_size` answers in plain text when no route reads the body; this keeps every answer
problem+json (RFC 9457), like the rest of the API.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import problems

REASON = "AUDIO_TOO_LARGE"  # what problems.http_error_handler reports for any 413


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = problems.problem(
                413,
                "Content Too Large",
                f"the request body is {int(declared)} bytes; at most {self.max_bytes} are accepted",
                REASON,
                scope.get("path", ""),
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's body read: FastAPI re-raises HTTPExceptions and the
                    # gateway's handler answers it as problem+json.
                    raise HTTPException(413, f"the request body exceeds {self.max_bytes} bytes")
            return message

        await self.app(scope, counted, send)
