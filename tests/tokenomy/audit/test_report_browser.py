"""The HTML report in a real headless Chromium: no console errors, tables sort and
filter, charts fit a phone's width. Screenshots go to docs/img when asked."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tokenomy.audit import render_html, run_audit, sample_workload_path

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = os.environ.get("TOKENOMY_REPORT_SCREENSHOTS")  # a folder: save the screenshots there


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    report = run_audit(
        sample_workload_path(), plugins=["exact_cache", "prompt_caching", "output_caps"]
    )
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium must be installed under CI (.ci/run installs it)")
        pytest.skip("no chromium on this machine: apt-get install chromium")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.mark.parametrize(("name", "width", "height"), [("desktop", 1280, 900), ("phone", 390, 844)])
def test_the_report_renders_without_errors_and_fits_the_window(
    browser, report_file, name, width, height
):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(report_file.as_uri())
    assert errors == []
    assert page.locator("svg.chart").count() >= 3
    overflow = page.evaluate(
        "Array.from(document.querySelectorAll('svg.chart')).filter("
        "s => s.getBoundingClientRect().right > window.innerWidth + 1).length"
    )
    assert overflow == 0  # every chart fits the window
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"report-{name}.png"), full_page=False)
    page.close()


def test_tables_sort_on_a_click_and_filter_as_you_type(browser, report_file):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(report_file.as_uri())
    table = page.locator("table.sortable").first  # cost by model
    costs = "Array.from(document.querySelector('table.sortable').tBodies[0].rows).map(r => parseFloat(r.cells[4].dataset.v))"
    table.locator("th").nth(4).click()
    ascending = page.evaluate(costs)
    assert ascending == sorted(ascending)
    table.locator("th").nth(4).click()
    descending = page.evaluate(costs)
    assert descending == sorted(descending, reverse=True)
    names = "Array.from(document.querySelector('table.sortable').tBodies[0].rows).map(r => r.cells[0].textContent)"
    table.locator("th").first.click()
    assert page.evaluate(names) == sorted(page.evaluate(names))
    search = page.locator("input.filter").last  # the most expensive requests
    table_id = search.get_attribute("data-table")
    rows = f"Array.from(document.getElementById('{table_id}').tBodies[0].rows)"
    first_id = page.evaluate(f"{rows}[0].cells[0].textContent")
    search.fill(first_id)
    shown = page.evaluate(
        f"{rows}.filter(r => r.style.display !== 'none').map(r => r.cells[0].textContent)"
    )
    assert shown == [first_id]
    search.fill("")
    assert page.evaluate(f"{rows}.filter(r => r.style.display !== 'none').length") > 1
    page.close()


def test_the_time_axis_is_continuous(report_file):
    from tokenomy.audit.html import _continuous
    from tokenomy.monitor import UsageSummary

    def row(start: float, cost: float) -> UsageSummary:
        return UsageSummary({}, start, 1, 0, 0, 0, 0, cost, 0, 0, 0, 0, {}, {})

    rows = [row(0.0, 1.0), row(3 * 3600.0, 2.0)]
    assert _continuous(rows, "hour") == [(0.0, 1.0), (3600.0, 0.0), (7200.0, 0.0), (10800.0, 2.0)]
