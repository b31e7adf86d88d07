"""The interactive API docs run only the Swagger UI files they name by version and hash: the API's
origin also runs the browser portal, which keeps its token there."""

from __future__ import annotations

import re

from api_net import Net


def test_the_docs_load_one_pinned_swagger_ui_checked_by_its_hash(net: Net) -> None:
    page = net.http.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', page.text)
    assert len(external) == 2, external  # the bundle and its stylesheet, nothing else from elsewhere
    for url in external:
        assert re.search(r"swagger-ui-dist@\d+\.\d+\.\d+/", url), url  # an exact version, never "@5"
        tag = next(t for t in re.findall(r"<(?:script|link)[^>]*>", page.text) if url in t)
        assert re.search(r'integrity="sha384-[A-Za-z0-9+/=]{64}"', tag) and 'crossorigin="anonymous"' in tag
    assert "/api/v1/openapi.json" in page.text
    assert net.http.get("/redoc").status_code == 404  # an unpinned CDN page no more
