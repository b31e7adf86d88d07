"""The browser portal in a real headless Chromium against `suanli up`, as a tenant meets it: the link
`up` prints logs in, a job is quoted, submitted, shown placed as soon as it is, watched to its end
with its output, listed, and a long one cancelled; a job waiting for funds says so first, and a
refunded one shows its refund; bad input and a refused token are said on the page; the page runs
under its Content-Security-Policy without a console error."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_net import free_port
from test_e2e_up import Up, cli

CHROMIUM = os.environ.get("SUANLI_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency (make install)")
if not shutil.which(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM}: scripts/ensure-chromium.sh installs it", allow_module_level=True)
expect = sync_api.expect


@pytest.fixture
def up(tmp_path: Path) -> Iterator[tuple[Up, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    env["SUANLI_CONFIG_DIR"] = str(tmp_path / "config")
    network = Up(tmp_path / "data", free_port(), env, tmp_path / "up.log")
    try:
        yield network, env
    finally:
        network.stop()


@pytest.fixture
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_a_tenant_quotes_submits_watches_and_cancels_jobs_in_the_portal(
    up: tuple[Up, dict[str, str]], browser: sync_api.Browser
) -> None:
    network, env = up
    base = f"http://127.0.0.1:{network.port}"
    [link] = re.findall(r"portal: (http://\S+/portal/#token=\S+)", network.output())
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(link)
    expect(page.locator("#who")).to_contain_text("demo owner")
    assert "token=" not in page.url  # taken out of the address bar and the history
    expect(page.get_by_text("No jobs yet.")).to_be_visible()

    page.get_by_role("link", name="Submit", exact=True).click()
    page.fill("#f-name", "portal-hello")
    page.fill("#f-run", "echo hello-from-the-portal")
    page.fill("#f-max-runtime", "5m")
    page.click("#quote-button")
    quote = page.locator("#quote")
    expect(quote).to_contain_text("priced for 0.08 h")
    expect(quote.locator("tbody tr").first).to_contain_text("local/cpu")
    assert (
        httpx.get(f"{base}/api/v1/jobs", headers=_auth(link)).json()["items"] == []
    )  # a quote submits nothing

    page.fill("#f-max-runtime", "forever")  # bad input: said on the page, naming the field
    page.click("#submit-button")
    expect(page.locator(".error")).to_contain_text("max_runtime")
    page.fill("#f-max-runtime", "5m")
    page.click("#submit-button")
    expect(page).to_have_url(re.compile(r"#/jobs/job_"))
    job_id = page.url.rsplit("/", 1)[1]
    # The first view is current: the page read the job before the cycle its submission poked placed
    # it, and showed PENDING until its next poll, 3 s on; the job's watch now wakes it at once.
    _until(lambda: _job(base, link, job_id)["state"] != "PENDING", "the scheduler placed it")
    expect(page.locator("#job-state")).not_to_have_text("PENDING", timeout=1_500)
    expect(page.locator("#job-state")).to_have_text("SUCCEEDED", timeout=90_000)
    expect(page.locator("#logs")).to_contain_text("hello-from-the-portal", timeout=30_000)
    expect(page.locator("#spec")).to_contain_text("echo hello-from-the-portal")

    # Edit as a new job: the form holds a copy; a double click on Submit submits it once.
    page.click("#edit-as-new")
    expect(page.locator("#f-name")).to_have_value("portal-hello")
    page.fill("#f-name", "portal-again")
    page.dblclick("#submit-button")
    expect(page).to_have_url(re.compile(r"#/jobs/job_"))
    expect(page.locator("#job-state")).to_have_text("SUCCEEDED", timeout=90_000)
    expect(page.locator("#logs")).to_contain_text("hello-from-the-portal", timeout=30_000)
    names = [j["name"] for j in httpx.get(f"{base}/api/v1/jobs", headers=_auth(link)).json()["items"]]
    assert names.count("portal-again") == 1, names

    # A job whose first attempt fails and is retried: its output shows where attempt 2 begins.
    page.get_by_role("link", name="Submit", exact=True).click()
    page.fill("#f-name", "retried")
    page.fill("#f-run", 'echo "try $SUANLI_ATTEMPT"; test "$SUANLI_ATTEMPT" -ge 2')
    page.fill("#f-extra", '{"retries": 1}')
    page.click("#submit-button")
    expect(page).to_have_url(re.compile(r"#/jobs/job_"))
    expect(page.locator("#job-state")).to_have_text("SUCCEEDED", timeout=120_000)
    output = page.locator("#logs")
    expect(output).to_contain_text("try 2", timeout=30_000)
    assert output.inner_text().splitlines() == ["try 1", "── attempt 2 on site local, pool cpu ──", "try 2"]

    page.get_by_role("link", name="Jobs", exact=True).click()
    row = page.locator("tbody tr", has_text=job_id)
    expect(row).to_contain_text("SUCCEEDED")
    expect(row).to_contain_text("demo/default")

    # A long job, cancelled from its page (the confirm dialog accepted) and seen ending so.
    spec = Path(env["SUANLI_CONFIG_DIR"]).parent / "long.yaml"
    spec.write_text("name: long\nrun: sleep 300\nresources: {cpus: 1, max_runtime: 10m}\n")
    ran = cli(env, "submit", str(spec))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    long_id = ran.stdout.split()[0]
    page.goto(f"http://127.0.0.1:{network.port}/portal/#/jobs/{long_id}")
    expect(page.locator("#job-state")).to_have_text("RUNNING", timeout=60_000)
    behind = cli(env, "submit", str(spec))  # the one CPU is taken: this one waits, and says why
    assert behind.returncode == 0, behind.stdout + behind.stderr
    waiting_id = behind.stdout.split()[0]
    page.goto(f"{base}/portal/#/jobs/{waiting_id}")
    expect(page.locator("#job-state")).to_have_text("PENDING")
    why = page.locator("main")
    expect(why).to_contain_text("Why it waits")
    expect(why.locator("tbody tr", has_text="local/cpu")).to_contain_text("not now")
    assert cli(env, "cancel", waiting_id).returncode == 0
    page.goto(f"{base}/portal/#/jobs/{long_id}")
    expect(page.locator("#job-state")).to_have_text("RUNNING")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#cancel")
    expect(page.locator("#job-state")).to_have_text("CANCELLED", timeout=60_000)

    page.get_by_role("link", name="Money", exact=True).click()
    expect(page.locator("main")).to_contain_text("default")
    page.get_by_role("link", name="Network", exact=True).click()
    expect(page.locator("main tbody tr").first).to_contain_text("online")

    page.click("#logout")
    expect(page).to_have_url(re.compile(r"#/login$"))
    page.fill("#token", "slt_not-a-real-token")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".error")).to_contain_text("That token was refused.")

    # Login links: a damaged one says so; one for another person asks before changing who you are.
    page.goto(f"{base}/portal/#token=%E0%A4%A")
    expect(page.locator(".error")).to_contain_text("That login link is damaged")
    page.goto(link)
    expect(page.locator("#who")).to_contain_text("demo owner")
    operator = (Path(env["SUANLI_CONFIG_DIR"]).parent / "data" / "operator.token").read_text().strip()
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.goto(f"{base}/portal/#token={operator}")
    expect(page.locator("#who")).to_contain_text("(operator)")
    assert asked == ["This link logs you in as operator in place of demo. Go on?"]
    assert "token=" not in page.url
    # the browser logs the answers it was meant to get (422 for the bad input, 401 for the bad
    # token) as failed loads; nothing else, and no script or policy error
    expected = re.compile(r"Failed to load resource: .* status of (401|422) ")
    assert [p for p in problems if not expected.match(p)] == []


def test_a_job_waiting_for_funds_says_so_first_and_a_refunded_one_shows_its_refund(
    up: tuple[Up, dict[str, str]], browser: sync_api.Browser
) -> None:
    network, env = up
    base = f"http://127.0.0.1:{network.port}"
    [link] = re.findall(r"portal: (http://\S+/portal/#token=\S+)", network.output())
    operator = ("--profile", "local-operator")
    priced = cli(env, *operator, "price", "set", "local", "cpu", "--cpu-hour", "1.00",
                 "--wholesale-cpu-hour", "0.50", "--minimum", "1.00")  # fmt: skip
    assert priced.returncode == 0, priced.stdout + priced.stderr
    spec = Path(env["SUANLI_CONFIG_DIR"]).parent / "paid.yaml"
    spec.write_text("name: paid\nrun: echo paid\nresources: {cpus: 1, max_runtime: 5m}\n")
    ran = cli(env, "submit", str(spec))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    job_id = ran.stdout.split()[0]
    page = browser.new_page()
    page.goto(link)
    expect(page.locator("#who")).to_contain_text("demo owner")
    page.goto(f"{base}/portal/#/jobs/{job_id}")
    reasons = page.locator("main ul li")  # the project has no money: what binds heads the list
    expect(reasons.first).to_contain_text("Held back: insufficient funds: needs 1.00 CNY", timeout=30_000)
    expect(reasons.first).to_contain_text("a top-up or a higher credit limit (by an operator)")

    assert cli(env, *operator, "topup", "demo", "default", "5.00", "--reason", "e2e").returncode == 0
    expect(page.locator("#job-state")).to_have_text("SUCCEEDED", timeout=60_000)
    _until(  # its minimum charge, once its usage record is in
        lambda: [c["charged"] for c in _job(base, link, job_id)["charges"]] == ["1.00 CNY"], "it was charged"
    )
    page.reload()
    charges = page.locator("main table").filter(has_text="still held")
    expect(charges.locator("tbody td").nth(1)).to_have_text("1.00 CNY")
    assert "refunded" not in charges.inner_text()  # a column only where a refund gave some back
    refunded = cli(env, *operator, "refund", job_id, "--reason", "e2e")
    assert refunded.returncode == 0, refunded.stdout + refunded.stderr
    page.reload()
    expect(charges.locator("thead th")).to_have_text(
        ["currency", "charged", "vouchers", "cash", "arrears", "refunded", "still held"]
    )
    expect(charges.locator("tbody td")).to_have_text(
        ["CNY", "0.00 CNY", "0.00 CNY", "0.00 CNY", "0.00 CNY", "1.00 CNY", "0.00 CNY"]
    )  # charged net of the refund, and what it gave back


def test_the_portal_is_served_with_a_policy_that_allows_only_its_own_code(
    up: tuple[Up, dict[str, str]],
) -> None:
    network, _ = up
    base = f"http://127.0.0.1:{network.port}"
    root = httpx.get(f"{base}/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/portal/"
    page = httpx.get(f"{base}/portal/")
    policy = page.headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy and "default-src 'none'" in policy and "'unsafe-inline'" not in policy
    )
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text and 'src="portal.js"' in page.text  # nothing inline to allow


def _job(base: str, link: str, job_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{base}/api/v1/jobs/{job_id}", headers=_auth(link)).json())


def _until(done: Callable[[], bool], what: str) -> None:
    """Wait, asking the API often, until `done()`: what the page is then checked against."""
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, f"not in 30 s: {what}"
        time.sleep(0.05)


def _auth(link: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {link.rsplit('token=', 1)[1]}"}
