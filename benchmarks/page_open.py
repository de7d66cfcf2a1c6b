"""A class opens the app at once: how long until each page shows its first grid (issue 43 item 4).

Starts `python app.py`, then N visitors (threads, each its own X-Forwarded-For address behind one
trusted proxy, as on a Space) open the page at the same moment: each downloads the page (its HTML
holds the whole interface's configuration), the script and the style sheet it names, then asks
/sample for the grid the Sample tab opens with (the preferred model, seed 42, 8x8), as the page's
first grid does. The figure is the time from the start to that grid downloaded.

What a real browser does besides is not here: the interface's lazily loaded script chunks, its
other page-load events (the pickers, the first walk) and drawing the page. So this is the server's
part of "the first grid shown", a lower bound on what a student waits.

    python benchmarks/page_open.py                 # 30 pages at once, 3 rounds (about a minute)
    python benchmarks/page_open.py --pages 60 --rounds 1
"""

import argparse
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import find_data_dir, machine_info, summarize_ms, write_json  # noqa: E402
from benchmarks.load_test import RESULTS_DIR, App, RawHttpClient  # noqa: E402

FIRST_GRID = ("gan-conditional", 42, 8, "all", 1.0, 20, 2.0)  # the Sample tab's opening grid
GOAL_P95_S = 3.0  # issue 43's goal for 30 pages opened at once


def fetch(url, headers):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=120) as answer:
        return answer.read()


def assets_of(url):
    """The script and style sheet the page names (the same for every page of one server)."""
    return re.findall(r'(?:src|href)="\./(assets/[^"]+)"', fetch(url, {}).decode())


def open_page(url, assets, visitor, start, results, index):
    """One student's page: the HTML, its script and style sheet, then the first grid. Seconds from `start`."""
    headers = {"X-Forwarded-For": visitor}
    start.wait()
    began = time.perf_counter()
    try:
        client = RawHttpClient(url, headers=headers)  # downloads the page itself
        for asset in assets:
            fetch(url + asset, headers)
        page_seconds = time.perf_counter() - began
        client.submit(*FIRST_GRID, api_name="/sample").result(timeout=120)
        results[index] = (page_seconds, time.perf_counter() - began, None)
    except Exception as error:  # noqa: BLE001 (a page that failed is counted and said, not raised)
        results[index] = (None, None, f"{type(error).__name__}: {error}"[:200])


def one_round(url, assets, pages, round_number):
    start, results = threading.Event(), [None] * pages
    threads = [threading.Thread(target=open_page, args=(url, assets, f"10.{round_number}.{i // 250}.{i % 250 + 1}",
                                                         start, results, i)) for i in range(pages)]
    for thread in threads:
        thread.start()
    start.set()
    for thread in threads:
        thread.join()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=30, help="pages opened at once (default 30)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each with fresh visitors (default 3)")
    parser.add_argument("--data-dir", help="MNIST folder (default: $GENAI_DATA_DIR, else ../shared/...)")
    parser.add_argument("--json", help="where to write the figures (default: benchmarks/results/page-open-<date>.json)")
    args = parser.parse_args()
    results = {"machine": machine_info("cpu"), "pages": args.pages, "rounds": []}
    scratch = Path(tempfile.mkdtemp(prefix="genai-page-open-"))
    app = App(scratch, data_dir=find_data_dir(args.data_dir), trust_forwarded=True)
    try:  # from here on, whatever happens, the app is stopped
        assets = assets_of(app.url)
        results["assets"] = assets
        for number in range(1, args.rounds + 1):
            rows = one_round(app.url, assets, args.pages, number)
            done = [row for row in rows if row[2] is None]
            results["rounds"].append({
                "page": summarize_ms([row[0] for row in done]) if done else None,
                "first_grid": summarize_ms([row[1] for row in done]) if done else None,
                "errors": [row[2] for row in rows if row[2] is not None],
            })
            time.sleep(2.0)
    finally:
        app.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"{args.pages} pages opened at once, {args.rounds} rounds (the first on a server that has drawn nothing yet)")
    print(f"{'round':>5s} {'page p50 s':>11s} {'page p95 s':>11s} {'first grid p50 s':>17s} {'first grid p95 s':>17s} "
          f"{'errors':>6s}")
    for number, row in enumerate(results["rounds"], 1):
        page, grid = row["page"] or {}, row["first_grid"] or {}
        print(f"{number:5d} {page.get('p50_ms', float('nan')) / 1000:11.2f} {page.get('p95_ms', float('nan')) / 1000:11.2f} "
              f"{grid.get('p50_ms', float('nan')) / 1000:17.2f} {grid.get('p95_ms', float('nan')) / 1000:17.2f} "
              f"{len(row['errors']):6d}")
    print(f"goal: first grid p95 <= {GOAL_P95_S:g} s")
    path = write_json(results, args.json or RESULTS_DIR / f"page-open-{time.strftime('%Y-%m-%d')}.json")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
