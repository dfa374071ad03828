"""The API documentation pages load nothing from the internet."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = pytest.mark.asyncio

_URL_ATTRIBUTE = re.compile(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_use_only_local_assets(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = _URL_ATTRIBUTE.findall(response.text)
    assert urls, "the page references no assets"
    external = [u for u in urls if not u.startswith("/")]
    assert not external, f"{page} loads from elsewhere: {external}"
    assert "/openapi.json" in urls
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url


async def test_swagger_ui_bundle_is_the_real_script(client: httpx.AsyncClient) -> None:
    script = await client.get("/api-docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "SwaggerUIBundle" in script.text
