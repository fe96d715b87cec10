"""The browser side: the playground and dashboard at ``/``, and the API docs, all offline.

Everything a page loads comes from this gateway (``/static``, shipped inside the package): the
playground is plain HTML, CSS and ES modules; ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) use
copies of ``swagger-ui-dist`` and ``redoc`` vendored by ``make vendor``. FastAPI's own docs routes
load those from a CDN and are disabled in :func:`app.main.create_app`, so a gateway on a network
without internet access still documents itself.

The playground page forbids every origin but this one (Content-Security-Policy), so a stray
external reference fails loudly in development instead of silently needing the internet.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
UI_INDEX = STATIC_DIR / "ui" / "index.html"

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)


def _prefix(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


async def playground(request: Request) -> Response:
    """The single-page playground, spend dashboard and key admin (hash-routed)."""
    return FileResponse(
        UI_INDEX,
        media_type="text/html; charset=utf-8",
        headers={
            "content-security-policy": PAGE_POLICY,
            "cache-control": "no-cache",
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
        },
    )


async def swagger_ui(request: Request) -> HTMLResponse:
    prefix = _prefix(request)
    return get_swagger_ui_html(
        openapi_url=f"{prefix}{request.app.openapi_url}",
        title=f"{request.app.title} - API docs",
        swagger_js_url=f"{prefix}/static/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{prefix}/static/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{prefix}/static/favicon.svg",
        # no badge from the online validator (swagger.io): the page stays on this gateway
        swagger_ui_parameters={"validatorUrl": None},
    )


async def redoc(request: Request) -> HTMLResponse:
    prefix = _prefix(request)
    return get_redoc_html(
        openapi_url=f"{prefix}{request.app.openapi_url}",
        title=f"{request.app.title} - API reference",
        redoc_js_url=f"{prefix}/static/vendor/redoc/redoc.standalone.js",
        redoc_favicon_url=f"{prefix}/static/favicon.svg",
        with_google_fonts=False,
    )


def install_web(app: FastAPI) -> None:
    """Add ``/``, ``/docs``, ``/redoc`` and ``/static`` to ``app``."""
    app.add_api_route("/", playground, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
