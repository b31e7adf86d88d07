"""The interactive API docs (`/docs`): Swagger UI, pinned to one version and its integrity hashes.

FastAPI's own page loads `swagger-ui-dist@5` from a CDN: whatever version the CDN serves that day,
run on the API's origin, where the browser portal keeps its token. Here the version is fixed and
the browser refuses the files unless they are exactly the ones hashed below (Subresource
Integrity), so a changed or compromised CDN file is not run. To move to another version, take its
files from the npm registry (`npm pack swagger-ui-dist@VERSION`) and hash them:
`openssl dgst -sha384 -binary swagger-ui-bundle.js | openssl base64 -A`.
"""

from __future__ import annotations

import json
from html import escape

from starlette.responses import HTMLResponse

SWAGGER_UI = "5.35.0"
_CDN = f"https://cdn.jsdelivr.net/npm/swagger-ui-dist@{SWAGGER_UI}"
_JS = (
    f"{_CDN}/swagger-ui-bundle.js",
    "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9",
)
_CSS = (f"{_CDN}/swagger-ui.css", "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I")


def docs_page(openapi_url: str, title: str) -> HTMLResponse:
    settings = json.dumps({"url": openapi_url, "dom_id": "#swagger-ui", "deepLinking": True})
    html = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{_CSS[0]}" integrity="{_CSS[1]}" crossorigin="anonymous">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{_JS[0]}" integrity="{_JS[1]}" crossorigin="anonymous"></script>
<script>
SwaggerUIBundle(Object.assign({settings}, {{
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
}}));
</script>
</body>
</html>
"""
    return HTMLResponse(html, headers={"Referrer-Policy": "no-referrer"})
