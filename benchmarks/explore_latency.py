"""The explorer's interaction latency: a slider move to the new picture on screen, in Chromium.

    python benchmarks/explore_latency.py [--quick] [--screenshots docs/img]

Trains the demo model as `make demo` does (`aekit train` on the built-in digits; --quick: 3
epochs), serves it as `aekit explore` does, and drags every latent slider across in Debian's
Chromium (driven by Playwright, as the browser tests are). The page times each picture from the
slider's input event to just after the paint that shows it (a task queued by the animation
frame before that paint), so the figure covers the request, the decoding, the drawing and the
paint. With --screenshots, it also writes the
screenshots of docs/explore.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from aekit import commands
from aekit.explorer import serve
from common import write_result

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MOVES_PER_SLIDER = 40


def _drag(page, selector: str, start: float, end: float, steps: int) -> None:
    box = page.locator(selector).bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + start * box["width"], y)
    page.mouse.down()
    page.mouse.move(box["x"] + end * box["width"], y, steps=steps)
    page.mouse.up()


def _settle(page) -> None:
    """Wait until the page has drawn the answer to the last move."""
    page.wait_for_timeout(200)
    count = -1
    while count != page.evaluate("() => window.aekit.outputs"):
        count = page.evaluate("() => window.aekit.outputs")
        page.wait_for_timeout(200)


def measure(page, latent_dim: int) -> list[float]:
    page.evaluate("() => { window.aekit.latencies = []; }")
    for d in range(latent_dim):
        _drag(page, f"#z{d}", 0.1, 0.9, MOVES_PER_SLIDER)
        _settle(page)
    return page.evaluate("() => window.aekit.latencies")


def screenshots(page, explorer, folder: Path, work: Path) -> list[str]:
    """One picture per panel, each after the interaction it shows."""
    folder.mkdir(parents=True, exist_ok=True)
    shots = []

    def shoot(selector: str, name: str) -> None:
        page.locator(selector).screenshot(path=str(folder / name))
        shots.append(name)

    xy, labels = explorer.xy, np.asarray(explorer.label_names)[explorer.label_index]
    box = page.locator("#map").bounding_box()

    screen = np.asarray(page.evaluate("n => [...Array(n).keys()].map(window.aekit.screenPoint)", len(xy)))

    def isolated(label: str) -> int:
        """An input of ``label`` that no other dot covers, so that a click picks it."""
        candidates = np.flatnonzero(labels == label)
        gaps = [np.sort(np.linalg.norm(screen - screen[i], axis=1))[1] for i in candidates]
        return int(candidates[int(np.argmax(gaps))])

    def click(i: int) -> None:
        page.mouse.click(box["x"] + screen[i][0], box["y"] + screen[i][1])
        _settle(page)

    a, b = isolated("0"), isolated("6")
    click(a)
    page.click("#set-a")
    click(b)
    page.click("#set-b")
    _settle(page)
    hover = isolated("3")
    page.mouse.move(box["x"] + screen[hover][0], box["y"] + screen[hover][1])
    page.wait_for_selector("#tooltip:not([hidden])")
    page.wait_for_timeout(300)
    shoot("#map-panel", "explore_map.png")
    track = page.locator("#path-t").bounding_box()
    page.mouse.click(track["x"] + 0.4 * track["width"], track["y"] + track["height"] / 2)
    _settle(page)
    shoot("#path-panel", "explore_path.png")
    click(a)
    _drag(page, "#z1", 0.5, 0.85, 10)
    _settle(page)
    shoot("#sliders-panel", "explore_sliders.png")
    shoot("#output-panel", "explore_output.png")
    page.select_option("#attr-from", "1")
    page.select_option("#attr-to", "7")
    _settle(page)
    click(isolated("1"))
    _drag(page, "#attr-strength", 0.5, 0.85, 10)
    _settle(page)
    page.locator("#attribute-panel").evaluate(  # the input and its shifted decoding, under the slider
        "panel => panel.append(document.querySelector('#output-panel .pair').cloneNode(true))")
    page.evaluate("""() => {  // the clone's canvases are blank: copy the pictures into them
        const [input, output] = document.querySelectorAll('#output-panel canvas');
        const [i2, o2] = document.querySelectorAll('#attribute-panel canvas');
        for (const [from, to] of [[input, i2], [output, o2]]) {
            to.width = from.width; to.height = from.height; to.getContext('2d').drawImage(from, 0, 0);
        }
    }""")
    shoot("#attribute-panel", "explore_attribute.png")
    page.evaluate("() => document.querySelector('#attribute-panel .pair').remove()")
    # "A cat in a model of dogs": a photograph that is no digit, dropped in as a user would.
    photo = work / "not a digit.png"
    from skimage import data as photos

    Image.fromarray(photos.camera()).resize((64, 64)).save(photo)
    page.set_input_files("#upload-file", str(photo))
    page.wait_for_function("() => document.querySelector('#upload-result').textContent.includes('score')")
    _settle(page)
    shoot("#upload-panel", "explore_upload.png")
    page.screenshot(path=str(folder / "explore.png"), full_page=True)
    shots.append("explore.png")
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 3-epoch model: a smoke test")
    parser.add_argument("--screenshots", type=Path, help="write the panels' screenshots to this folder")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as work:
        run = Path(work) / "demo"
        train = [sys.executable, "-m", "aekit", "train", "--out", str(run), "--quiet"]
        subprocess.run(train + (["--epochs", "3"] if args.quick else []), check=True)
        explorer = commands.explorer(model=run)
        server = serve(explorer)
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                errors = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(server.url)
                page.wait_for_function("() => window.aekit.ready")
                _drag(page, "#z0", 0.5, 0.6, 5)  # warm-up: the first decodes pay for lazy set-up
                _settle(page)
                latencies = np.asarray(measure(page, explorer.model.latent_dim))
                shots = screenshots(page, explorer, args.screenshots, Path(work)) if args.screenshots else []
                browser.close()
        finally:
            server.stop()
    if errors:
        sys.exit(f"the page logged errors: {errors}")
    rows = [{"interaction": "slider move -> new picture on screen", "model": "the demo's (aekit train "
             f"on the 8x8 digits: {type(explorer.model).__name__}, latent {explorer.model.latent_dim})",
             "slider moves": MOVES_PER_SLIDER *
             explorer.model.latent_dim, "pictures drawn": int(len(latencies)),
             "median ms": round(float(np.median(latencies)), 1),
             "p90 ms": round(float(np.percentile(latencies, 90)), 1),
             "max ms": round(float(latencies.max()), 1)}]
    for row in rows:
        print(row)
    write_result("explore", rows, args.quick, browser="Debian chromium, headless",
                 **({"screenshots": shots} if shots else {}))


if __name__ == "__main__":
    main()
