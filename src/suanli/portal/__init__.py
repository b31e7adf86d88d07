"""The browser portal: a single page of static HTML, CSS and JavaScript that talks to the API over
HTTP with the caller's token, as the CLI does. Nothing here imports the server: `suanli server`
and `suanli up` serve `STATIC` at `/portal/` (`cli/serve.py`).

Tenants see their jobs (state, events, output, charges, why one waits), quote and submit a job,
and see their orgs' balances and vouchers; operators also see the network's sites and pools.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
PATH = "/portal"

# What a portal page may load and run: its own files and the API on the same origin, nothing
# inline, nothing from elsewhere, never inside another site's frame.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
