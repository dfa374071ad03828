"""The API's documentation pages (``/docs``, ``/redoc``) with every asset served locally.

FastAPI's defaults load Swagger UI and ReDoc from a CDN, so on a machine without internet
``/docs`` is a blank page. The same files come here from an installed package
(``fastapi-offline`` ships them) and are served under ``/api-docs-assets/``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/api-docs-assets"


def _assets_dir() -> Path:
    return Path(str(resources.files("fastapi_offline").joinpath("static")))


def install_api_docs(app: FastAPI, *, title: str) -> None:
    """Serve ``/docs`` (Swagger UI) and ``/redoc`` from local assets; the app must have been
    built with ``docs_url=None`` and ``redoc_url=None``."""
    app.mount(ASSETS_PATH, StaticFiles(directory=_assets_dir()), name="api-docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} API",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
