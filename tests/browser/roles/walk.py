"""A role's walk through the product in Chromium: every step is checked the way a person meets
it (no console errors or CSP violations, no sideways scrolling on the phone) and saved as
var/screenshots/<role>-<viewport>-<nn>-<step>.png for people to look at."""

from __future__ import annotations

import re

from townsquare.simulation import demo_city

from ..conftest import login, screenshot

# Seen in a page's state by the checks after each step.
LAYOUT = """() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
                    csp: (window.__cspViolations || []).slice()})"""
# Every document (frames too) records CSP violations, in case a browser does not log them.
CSP_LISTENER = """document.addEventListener('securitypolicyviolation', function (e) {
  (window.__cspViolations = window.__cspViolations || []).push(
    e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});"""


class Walk:
    def __init__(self, context, base: str, role: str, viewport: str) -> None:
        self.base, self.role, self.viewport = base, role, viewport
        self.phone = viewport == "phone"
        self.errors: list[str] = []
        self.steps = 0
        context.add_init_script(CSP_LISTENER)
        self.page = context.new_page()
        self.page.set_default_timeout(15_000)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.failed: list[str] = []  # which resource a "Failed to load resource" error means
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(
            f"{r.status} {r.url}"))

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({self.page.url})")

    def login(self, username: str) -> None:
        login(self.page, self.base, username, demo_city.DEMO_PASSWORD)

    def goto(self, path: str) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None and response.ok, (path, response and response.status)

    def step(self, name: str, *, refused: bool = False) -> None:
        """The page as it stands now: checked, and saved as a screenshot. `refused`: the page
        answers a form it refused (bad input) with 422, which Chromium logs as a failed load."""
        page = self.page
        if refused:
            assert any(f.startswith("422 ") for f in self.failed), "the form was not refused"
            self.errors = [e for e in self.errors if "status of 422" not in e]
            self.failed = [f for f in self.failed if not f.startswith("422 ")]
        page.wait_for_load_state("load")
        self.steps += 1
        seen = page.evaluate(LAYOUT)
        page.evaluate("window.scrollTo(0, 0)")  # else a sticky header lands mid-shot
        screenshot(page, f"{self.role}-{self.viewport}-{self.steps:02d}-{name}")
        assert not seen["csp"], f"{name}: CSP violations {seen['csp']}"
        assert not self.errors, f"{name}: " + "\n".join(self.errors + self.failed)
        if self.phone:
            assert seen["scroll"] <= seen["inner"], (
                f"{name} ({page.url}) scrolls sideways: {seen['scroll']} > {seen['inner']} px")

    def open_console(self, href: str) -> None:
        """Reach a console the way this viewport offers it: the top bar on a desktop; on a
        phone the top bar keeps only the user's name, and the consoles are on the 我的 page."""
        page = self.page
        if self.phone:
            page.locator(".tabbar a[href='/me']").click()
            page.wait_for_url(re.compile(r"/me$"))
            page.locator(f".me-links a[href='{href}']").click()
        else:
            page.locator(f".topbar a[href='{href}']").click()
        page.wait_for_url(re.compile(re.escape(href) + r"($|[/?#])"))

    def heading(self) -> str:
        return self.page.locator("main h1").first.inner_text().strip()
