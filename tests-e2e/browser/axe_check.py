"""axe-core on every page the browser tests visit, failing on any WCAG 2.1 AA violation
(the rules tagged wcag2a, wcag2aa, wcag21a, wcag21aa) and on a skipped heading level.

axe-core (MPL-2.0, a test-only tool) comes from tests-e2e/browser/node_modules, installed
from the committed package-lock.json by scripts/bootstrap.sh (`npm ci`). Its script is
added to every page of a test's browser context, before the page's own scripts (so the
page's CSP does not apply to it). Each time the web app finishes a view (its
`kinoarchive:rendered` event: the first load, every hash navigation, signed in or out),
the page runs axe and hands the result to Python through an exposed binding. A new
`goto` or `reload`, and the test's end, first wait for the checks still running.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AXE_SCRIPT = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Bounds the wait for a check still running (a hang only, never a slow machine).
IDLE_TIMEOUT_MS = 60_000

_HOOK = """
(() => {
  const TAGS = %s;
  let chain = Promise.resolve();
  window.__axePending = 0;
  document.addEventListener("kinoarchive:rendered", () => {
    window.__axePending += 1;
    chain = chain
      // The live region's announcement and focus land just after the event.
      .then(() => new Promise((resolve) => setTimeout(resolve, 60)))
      .then(async () => {
        const url = location.href;
        try {
          const result = await window.axe.run(document, {
            runOnly: { type: "tag", values: TAGS },
            // Tagged best-practice, not WCAG, but it is how a screen reader's user skims
            // a page (and the catalog once broke it): checked as well.
            rules: { "heading-order": { enabled: true } },
            resultTypes: ["violations"],
          });
          await window.__axeReport({
            url,
            violations: result.violations.map((v) => ({
              id: v.id,
              impact: v.impact,
              help: v.help,
              nodes: v.nodes.slice(0, 5).map((n) => ({
                target: n.target.join(" "),
                summary: n.failureSummary || "",
              })),
            })),
          });
        } catch (error) {
          await window.__axeReport({ url, error: String(error) });
        }
      })
      .finally(() => {
        window.__axePending -= 1;
      });
  });
})();
"""

_WAIT_IDLE = """async (limit) => {
  const end = Date.now() + limit;
  while (window.__axePending && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}"""


@dataclass
class AxeLog:
    checked: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def record(self, report: dict[str, Any]) -> None:
        url = str(report.get("url", "?"))
        if "error" in report:
            self.errors.append(f"{url}: {report['error']}")
            return
        self.checked.append(url)
        for violation in report.get("violations", []):
            lines = [
                f"{url}: {violation['id']} ({violation.get('impact')}): {violation['help']}",
            ]
            for node in violation.get("nodes", []):
                summary = " ".join(str(node.get("summary", "")).split())
                lines.append(f"    at {node['target']}: {summary}")
            self.violations.append("\n".join(lines))

    def failure(self) -> str | None:
        if self.errors and not self.checked:
            # A check may fail on a page replaced while it ran; none succeeding is a fault.
            return "axe-core could not check any page:\n" + "\n".join(self.errors)
        if not self.violations:
            return None
        unique = list(dict.fromkeys(self.violations))
        return "axe-core found accessibility violations (WCAG 2.1 AA, heading order):\n" + (
            "\n".join(unique)
        )


def install(context: Any) -> AxeLog:
    """Adds axe and the hook to every page of the context; returns where results go."""
    log = AxeLog()
    context.expose_binding("__axeReport", lambda _source, report: log.record(report))
    context.add_init_script(script=AXE_SCRIPT.read_text(encoding="utf-8"))
    context.add_init_script(script=_HOOK % WCAG_TAGS)
    return log


def wait_idle(page: Any) -> None:
    """Waits for the checks the page is still running (a page elsewhere has none)."""
    if page.is_closed():
        return
    try:
        page.evaluate(_WAIT_IDLE, IDLE_TIMEOUT_MS)
    except Exception:  # a page mid-navigation, or closed, has nothing to wait for
        return


def guard_navigation(page: Any) -> None:
    """A new goto or reload first lets the current page's checks finish."""
    for name in ("goto", "reload"):
        original: Callable[..., Any] = getattr(page, name)

        def wrapped(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            wait_idle(page)
            return _original(*args, **kwargs)

        setattr(page, name, wrapped)
