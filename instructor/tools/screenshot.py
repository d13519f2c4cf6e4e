"""The docs' screenshots: a notebook as JupyterLab shows it, and an HTML page (the grading report).

Needs PyPI `playwright` and a Chromium (Debian `chromium`); neither is a dependency of the kit.

    python instructor/tools/screenshot.py notebook assignment1/two_layer_net.ipynb docs/img/notebook_two_layer_net.png \
        --scroll 2400
    python instructor/tools/screenshot.py page build/grades/report/index.html docs/img/report_assignment2.png --height 1100

The notebook is copied into a temporary folder first: JupyterLab saves what it opens (its kernel's display
name), and the committed notebook must stay as nbval left it. JupyterLab renders only the cells near the
view, so the page is scrolled by mouse-wheel steps with pauses instead of jumping to a cell.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PORT = 8899
VIEWPORT = {"width": 1280, "height": 860}


def _browser(playwright, chromium):
    return playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])


def notebook(path, out, scroll, chromium):
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as root:
        shutil.copy(path, root)
        lab = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={PORT}", "--allow-root",
                                "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}",
                                "--LabApp.news_url="], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(8)
            with sync_playwright() as p:
                browser = _browser(p, chromium)
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(f"http://localhost:{PORT}/lab/tree/{Path(path).name}?reset", wait_until="networkidle")
                page.wait_for_selector(".jp-Notebook", timeout=60000)
                time.sleep(4)
                page.mouse.move(760, 500)
                for _ in range(scroll // 400):
                    page.mouse.wheel(0, 400)
                    time.sleep(0.3)
                time.sleep(2)
                page.screenshot(path=out)
                browser.close()
        finally:
            lab.terminate()
            lab.wait()


def page(path, out, height, chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _browser(p, chromium)
        view = browser.new_page(viewport={**VIEWPORT, "height": height})
        view.goto(Path(path).resolve().as_uri(), wait_until="networkidle")
        view.screenshot(path=out)
        browser.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["notebook", "page"])
    parser.add_argument("source", help="the .ipynb, or the .html page")
    parser.add_argument("out", help="the .png to write")
    parser.add_argument("--scroll", type=int, default=0, help="pixels to scroll a notebook down before the shot")
    parser.add_argument("--height", type=int, default=VIEWPORT["height"], help="pixels of a page shown from its top")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    if args.kind == "notebook":
        notebook(args.source, args.out, args.scroll, args.chromium)
    else:
        page(args.source, args.out, args.height, args.chromium)
    return 0


if __name__ == "__main__":
    sys.exit(main())
