"""The web console (console/, a React app built by `make console` into console/dist), served at
/console/ as static files.

Vite names every asset by its content hash, so /console/assets/* is cached for a year (sent brotli- or
gzip-compressed from the copies the build wrote, when the browser takes them); the pages
themselves (index.html for every console route, e.g. /console/voices or a voice owner's
/console/owner/<token>) are revalidated on each visit so a deploy shows at once. Every answer carries
a Content-Security-Policy that allows the console's own scripts, styles and API calls and nothing
else (no inline scripts, no third-party origins, no framing), and `Referrer-Policy: no-referrer`: an
owner's page URL holds their private token, which must not leak to any site in a Referer header.

Requests are logged under the route "/console" only (gateway/observe.py logs route templates), so an
owner token in the path never reaches a log line.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "console" / "dist"
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def _secured(response: Response, cache_control: str) -> Response:
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = cache_control
    return response


# Precompressed copies written by the build (console/scripts/precompress.mjs), best first.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def _accepts(accept_encoding: str, coding: str) -> bool:
    for item in accept_encoding.lower().split(","):
        name, _, params = item.strip().partition(";")
        if name.strip() == coding:
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _asset_response(asset: Path, accept_encoding: str) -> FileResponse:
    """The asset, or its precompressed copy when the browser takes that encoding."""
    for coding, suffix in ENCODINGS:
        compressed = asset.with_name(asset.name + suffix)
        if _accepts(accept_encoding, coding) and compressed.is_file():
            # The original's type (what FileResponse would guess for it), not the .br/.gz file's.
            media_type = mimetypes.guess_type(asset.name)[0]
            return FileResponse(
                compressed, media_type=media_type, headers={"Content-Encoding": coding, "Vary": "Accept-Encoding"}
            )
    return FileResponse(asset, headers={"Vary": "Accept-Encoding"})


def console_page(root: Path):
    """The endpoint for every path under /console/: a hashed asset, or the app shell."""
    root = root.resolve()

    async def page(request: Request) -> Response:
        path = request.path_params.get("path", "")
        if path.startswith("assets/"):
            asset = (root / path).resolve()
            # Assets only from inside the build folder: "..", symlinks out and absolute names are refused.
            if not asset.is_relative_to(root / "assets") or not asset.is_file():
                raise HTTPException(404, "no such console asset")
            return _secured(_asset_response(asset, request.headers.get("accept-encoding", "")), IMMUTABLE)
        index = root / "index.html"
        if not index.is_file():
            raise HTTPException(
                503,
                f"the console is not built: run `make console` (expected {index})",
            )
        # Every other path is a console route: the app's router reads it from the address bar.
        return _secured(FileResponse(index, media_type="text/html; charset=utf-8"), REVALIDATE)

    return page


def mount_console(app: FastAPI, root: Path | None) -> None:
    """Serve the console under /console (None: the repository's console/dist). Plain routes rather
    than a Mount, so logs and metrics name them "/console/{path:path}", not a bare "/{path:path}"."""

    async def to_console(_request: Request) -> Response:
        return RedirectResponse("/console/", status_code=308)

    page = console_page(root or DEFAULT_ROOT)
    app.router.routes.append(Route("/console", to_console, include_in_schema=False))
    app.router.routes.append(Route("/console/", page, include_in_schema=False))
    app.router.routes.append(Route("/console/{path:path}", page, include_in_schema=False))
