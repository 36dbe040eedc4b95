"""Browser tests of the web app: Playwright for Python driving the system's Chromium.

They use the end-to-end suite's `base_url` (the one local stack, or E2E_BASE_URL).
Without the playwright package or /usr/bin/chromium they are skipped with the reason,
unless REQUIRE_BROWSER=1 (set by .ci/run), which turns the skip into a failure.

Fixtures: `browser` (one per session), `viewport` ("desktop" 1280x800, "phone" 390x844:
every test runs on both), `page` (a new context per test; console errors fail the test,
and so does any WCAG 2.1 AA violation axe-core finds on a view the app renders: axe_check.py),
`shot` (saves var/screenshots/<flow>-<viewport>.png), `account` (a fresh user, logged in
through the API) and `logged_in` (that user signed in in the page's browser context, as the
web app signs in: the refresh cookie set by the auth service, the session mark stored).
"""

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import axe_check
import pytest
from browser_support import SESSION_KEY, Account, register_account

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
EVENT_TIMEOUT_MS = 60_000  # bounds a wait for an event: a hang, never a slow machine
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src https://www.youtube-nocookie.com; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
VIEWPORTS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but the browser tests cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        _unavailable("the playwright package is not installed (tests-e2e/requirements-browser.txt)")
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    if not axe_check.AXE_SCRIPT.is_file():
        _unavailable(
            "axe-core is not installed (scripts/bootstrap.sh, or npm ci in tests-e2e/browser)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def page(browser: Any, base_url: str, viewport: str) -> Iterator[Any]:
    from playwright.sync_api import expect  # noqa: PLC0415 (imported once the browser runs)

    # Every wait is for an event (an element, a URL, an answer); the timeout only bounds a
    # hang, and a loaded machine running Chromium must not reach it.
    context = browser.new_context(base_url=base_url, **VIEWPORTS[viewport])
    context.set_default_timeout(EVENT_TIMEOUT_MS)
    expect.set_options(timeout=EVENT_TIMEOUT_MS)
    # The machine reaches no outside site: an embedded trailer must not wait for one.
    context.route("https://**/*", lambda route: route.abort())
    # The page is served with the strict CSP that the gateway is to send: a violation is
    # a console error, which fails the test.
    context.route(f"{base_url}/", _with_csp)
    # axe-core checks every view the app renders in this context (axe_check.py).
    axe_log = axe_check.install(context)
    page = context.new_page()
    axe_check.guard_navigation(page)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and not _expected_console_error(message.text)
            else None
        ),
    )
    yield page
    for open_page in context.pages:
        axe_check.wait_idle(open_page)
    context.close()
    assert not problems, problems
    failure = axe_log.failure()
    assert failure is None, failure


def _with_csp(route: Any) -> None:
    response = route.fetch()
    route.fulfill(response=response, headers={**response.headers, "content-security-policy": CSP})


def _expected_console_error(text: str) -> bool:
    # Chromium logs every 4xx/5xx answer and aborted request as a console error: the flows
    # cause some on purpose (a wrong password, an invalid token, a blocked iframe).
    return text.startswith("Failed to load resource")


@pytest.fixture
def shot(page: Any, viewport: str) -> Callable[[str], Path]:
    def save(flow: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{flow}-{viewport}.png"
        page.mouse.move(0, 0)  # no hover effect on the picture
        page.wait_for_timeout(250)  # let transitions settle
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    return save


@pytest.fixture
def account(base_url: str) -> Account:
    return register_account(base_url)


# A login in cookie mode from the gateway's own origin, as the web app makes it.
_COOKIE_LOGIN = """async ([email, password, key]) => {
    const response = await fetch("/auth/login/", {
        method: "POST",
        headers: {"Content-Type": "application/json", "X-Token-Transport": "cookie"},
        body: JSON.stringify({email, password}),
    });
    if (response.status !== 200) throw new Error(`login: ${response.status}`);
    localStorage.setItem(key, "signed in by the test");
}"""


@pytest.fixture
def logged_in(page: Any, account: Account) -> Account:
    """The account signed in in the page's context (a session of its own, apart from
    `account.tokens`), before the app starts."""
    page.goto("/favicon.svg")
    page.evaluate(_COOKIE_LOGIN, [account.email, account.password, SESSION_KEY])
    return account
