"""Is report.html still usable with 500 items? Its size, build time, load time and click times.

    .venv/bin/python benchmarks/report_page.py                  # 500 items (250 instances x 2 models)
    .venv/bin/python benchmarks/report_page.py --items 2000 --repeats 7 --keep out/

How it measures: a synthetic run folder (pytest_ohbench.tools.testing.synthetic: seeded outcomes,
realistic ~2 KB patches, a log folder per item) is built once; then, `--repeats` times:
- build: `write_page` (summary, charts, matrix, items) timed with perf_counter;
- load: a fresh navigation of headless Chromium (DevTools protocol) to the file, from
  Page.navigate until the load event, and the page's own Navigation Timing
  (loadEventEnd: parse, layout and script included);
- filter / sort: inside the page, `performance.now()` around a click on the items' and the
  matrix's filter and sort controls, with a forced layout (offsetHeight) so the reflow of
  the table is counted, not only the script.
Medians are printed with the min and max; nothing is compared, so no A/B interleaving.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pytest_ohbench.report.page import write_page
from pytest_ohbench.report.summary import summarize
from pytest_ohbench.tools.testing.browser import Browser, BrowserError
from pytest_ohbench.tools.testing.synthetic import make_records, write_run

CLICK = """(function(){{var e=document.querySelector({selector!r});var t=performance.now();e.click();
document.body.offsetHeight;return performance.now()-t;}})()"""
ACTIONS = {
    "filter items (unresolved)": ".filters[data-for='ohbench-items'] button[data-outcome='unresolved']",
    "filter items (all)": ".filters[data-for='ohbench-items'] button[data-outcome='']",
    "sort items by cost": "#ohbench-items thead th:nth-child(6)",
    "filter matrix (resolved)": ".filters[data-for='ohbench-matrix'] button[data-outcome='resolved']",
    "sort matrix by model": "#ohbench-matrix thead th:nth-child(3)",
}


def figures(values: list[float], unit: str, scale: float = 1.0) -> str:
    shown = [v * scale for v in values]
    return f"median {statistics.median(shown):8.1f} {unit}   (min {min(shown):.1f}, max {max(shown):.1f}, n={len(shown)})"


def load_page(browser: Browser, page: Path) -> tuple[float, float]:
    """One fresh navigation to `page`: seconds until its load event, and the page's own loadEventEnd."""
    browser.open("about:blank")
    load = browser.open(page)
    return load, browser.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=500, help="items in the run (split over two models)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="write the run folder here instead of a temporary one")
    args = parser.parse_args()
    instances = max(1, args.items // 2)
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary) / "run"
        records = make_records(instances, {"gpt": 0.55, "claude": 0.4}, seed=1, costs={"gpt": 0.03, "claude": 0.08})
        for record in records:
            if record.patch:
                record.patch = record.patch * 6  # about 2 KB, like a small real fix
        write_run(folder, records, logs=True)
        summary = summarize(records)
        builds, page = [], folder / "report.html"
        for _ in range(args.repeats):
            started = time.perf_counter()
            page = write_page(folder, records, summary, title=f"benchmark: {len(records)} items")
            builds.append(time.perf_counter() - started)
        size = page.stat().st_size
        loads, navigation = [], []
        clicks: dict[str, list[float]] = {name: [] for name in ACTIONS}
        try:
            with Browser() as browser:
                for _ in range(args.repeats):
                    load, load_event_end = load_page(browser, page)
                    loads.append(load)
                    navigation.append(load_event_end)
                    for name, selector in ACTIONS.items():
                        clicks[name].append(browser.evaluate(CLICK.format(selector=selector)) / 1000)
                    rows = browser.evaluate("document.querySelectorAll('#ohbench-items tr.item').length")
        except BrowserError as exc:
            print(f"report_page: {exc}", file=sys.stderr)
            return 1
    print(f"report.html with {len(records)} items ({instances} instances x 2 models), {rows} item rows in the page")
    print(f"  size                       {size / 1024:8.1f} KiB ({size:,} bytes, self-contained)")
    print(f"  build (write_page)         {figures(builds, 'ms', 1000)}")
    print(f"  load (navigate -> load)    {figures(loads, 'ms', 1000)}")
    print(f"  load (loadEventEnd)        {figures(navigation, 'ms', 1000)}")
    for name, values in clicks.items():
        print(f"  {name:<27}{figures(values, 'ms', 1000)}")
    print(f"measured: {args.repeats} repeats; headless Chromium over the DevTools protocol; see the docstring for how")
    return 0


if __name__ == "__main__":
    sys.exit(main())
