"""The explorer's page in a real browser: Debian's Chromium, driven by Playwright.

Each test does what a user does (click the map, drag a slider, walk between two inputs, move an
attribute's strength, upload an image, paste a table row) and checks that the decoded picture
on the page changed and that the page logged no error. They skip, saying why, where Chromium or
Playwright is missing; `.ci/run` installs Chromium so that CI runs them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aekit import VAE, AutoEncoder
from aekit.data import load
from aekit.explorer import Explorer, serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, and quiet on a machine without a network: no background connections to refuse.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

sync_api = pytest.importorskip("playwright.sync_api",
                               reason="Playwright is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's Chromium is not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def _serving(explorer):
    server = serve(explorer)
    server.start()
    return server


@pytest.fixture(scope="module")
def digits_server():
    data = load("digits")
    X, y = data.X[:500], data.y[:500]
    model = VAE(latent_dim=3, network="mlp", epochs=3, random_state=0, verbose=0).fit(X)
    server = _serving(Explorer(model, X, y))
    yield server
    server.stop()


def _open(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.goto(server.url)
    page.wait_for_function("() => window.aekit.ready")
    return page


@pytest.fixture
def page(browser, digits_server):
    page = _open(browser, digits_server)
    yield page
    problems = page.problems
    page.close()
    assert problems == [], "the page logged errors"


def picture(page, selector="#output-view") -> str:
    return page.eval_on_selector(selector, "canvas => canvas.toDataURL()")


def outputs(page) -> int:
    return page.evaluate("() => window.aekit.outputs")


def wait_for_text(page, selector: str, text: str) -> None:
    page.wait_for_function("([s, t]) => document.querySelector(s).textContent.includes(t)",
                           arg=[selector, text])


def wait_for_output(page, after: int) -> None:
    page.wait_for_function("n => window.aekit.outputs > n", arg=after)


def wait_for_selected(page, row: int) -> None:
    """Until the input panel shows input ``row`` (a click's answer arrives asynchronously)."""
    page.wait_for_function("r => { const t = document.querySelector('#input-caption').textContent; "
                           "return t === `input #${r}` || t.startsWith(`input #${r} `); }", arg=row)


def click_point(page, index: int) -> None:
    x, y = page.evaluate("i => window.aekit.screenPoint(i)", index)
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def drag_slider(page, selector: str, start: float, end: float, steps: int = 10) -> None:
    box = page.locator(selector).bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + start * box["width"], y)
    page.mouse.down()
    page.mouse.move(box["x"] + end * box["width"], y, steps=steps)
    page.mouse.up()


def test_clicking_the_map_decodes_the_place_or_selects_the_input(page):
    before, count = picture(page), outputs(page)
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + 4, box["y"] + 4)  # the map's margin: no input there
    wait_for_text(page, "#output-caption", "clicked place")
    assert outputs(page) > count and picture(page) != before
    shown_input = picture(page, "#input-view")
    click_point(page, 7)
    wait_for_text(page, "#output-caption", "Anomaly score")
    assert picture(page, "#input-view") != shown_input
    assert page.is_visible("#why-figure") and picture(page, "#why-view")  # the pixels' heat map
    assert "input #" in page.inner_text("#input-caption")


def test_dragging_a_slider_redraws_the_picture_while_dragging(page):
    before, count = picture(page), outputs(page)
    drag_slider(page, "#z0", 0.5, 0.95, steps=12)
    page.wait_for_function("n => window.aekit.outputs >= n + 2", arg=count)
    page.wait_for_function("() => !document.querySelector('#z0').matches(':active')")
    assert float(page.input_value("#z0")) > 1.5  # 0.95 of the way along +-3 standard deviations
    assert picture(page) != before
    latencies = page.evaluate("() => window.aekit.latencies")
    assert latencies and all(ms > 0 for ms in latencies)


def test_walking_between_two_inputs_shows_the_strip_and_the_path(page, digits_server):
    xy = digits_server.explorer.xy
    far = int(np.argmax(np.linalg.norm(xy - xy[0], axis=1)))
    rows = digits_server.explorer.rows
    click_point(page, 0)
    wait_for_selected(page, int(rows[0]))
    page.click("#set-a")
    click_point(page, far)
    wait_for_selected(page, int(rows[far]))
    page.click("#set-b")
    page.wait_for_function("() => document.querySelectorAll('#strip canvas').length === 9")
    strip = page.eval_on_selector_all("#strip canvas", "canvases => canvases.map(c => c.toDataURL())")
    assert strip[0] != strip[-1]
    before, count = picture(page), outputs(page)
    box = page.locator("#path-t").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_for_output(page, count)
    assert "% of the way from A to B" in page.inner_text("#input-caption")
    assert picture(page) != before
    count = outputs(page)  # read before the change: its redraw can land before a later read
    page.select_option("#path-method", "spherical")
    page.wait_for_function("n => window.aekit.outputs > n", arg=count)


def test_an_attribute_vector_moves_the_picture(page):
    page.select_option("#attr-from", "1")
    page.select_option("#attr-to", "7")
    wait_for_text(page, "#status", "\"7\"")
    before, count = picture(page), outputs(page)
    drag_slider(page, "#attr-strength", 0.5, 1.0)
    wait_for_output(page, count)
    page.wait_for_function("() => Number(document.querySelector('#attr-strength').value) > 1.5")
    assert picture(page) != before


def test_an_uploaded_image_is_encoded_placed_and_scored(page, tmp_path):
    digit = load("digits").X[1000, 0].astype(np.uint8)
    path = tmp_path / "my digit.png"
    Image.fromarray(digit).resize((64, 64), Image.Resampling.NEAREST).save(path)
    before = picture(page, "#input-view")
    page.set_input_files("#upload-file", str(path))
    wait_for_text(page, "#upload-result", "Anomaly score")
    assert "higher than" in page.inner_text("#upload-result")
    assert picture(page, "#input-view") != before
    assert page.inner_text("#input-caption") == "your input"


def test_a_table_model_takes_a_pasted_row(browser, tmp_path):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(300, 2)) @ rng.normal(size=(2, 6))).astype(np.float32)
    model = AutoEncoder(latent_dim=2, epochs=3, random_state=0, verbose=0).fit(X)
    server = _serving(Explorer(model, X, feature_names=[f"sensor {i}" for i in range(6)]))
    try:
        page = _open(browser, server)
        assert page.is_visible("#values-zone") and not page.is_visible("#drop-zone")
        before = picture(page)
        page.fill("#upload-values", ", ".join(f"{v:.3f}" for v in X[5] * 3))
        page.click("#upload-encode")
        wait_for_text(page, "#upload-result", "Anomaly")
        assert picture(page) != before
        # the row's values tripled: what makes it anomalous, by the table's column names
        assert page.is_visible("#why-figure")
        assert page.inner_text("#why-caption").startswith("why: sensor ")
        page.fill("#upload-values", "1, 2")
        page.click("#upload-encode")
        assert "Give 6 numbers (got 2)" in page.inner_text("#status")
        assert page.problems == []
    finally:
        server.stop()


def test_the_sliders_carry_the_names_an_evaluation_against_factors_found(browser, tmp_path):
    """A run evaluated with known factors (aekit evaluate --factors): its sliders read "z0: size"."""
    import json

    import pandas as pd

    from aekit.cli import main
    from aekit.verbs.explore import explorer

    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(400, 2))
    frame = pd.DataFrame(hidden @ rng.normal(size=(2, 6)), columns=[f"c{i}" for i in range(6)])
    frame["size"], frame["tilt"] = hidden[:, 0], hidden[:, 1]
    frame.to_csv(tmp_path / "t.csv", index=False)
    run, data = tmp_path / "run", ["--data", str(tmp_path / "t.csv"), "--factors", "size,tilt"]
    assert main(["train", *data, "--latent-dim", "3", "--epochs", "30", "--quiet", "--out", str(run)]) == 0
    assert main(["evaluate", "--model", str(run), *data]) == 0
    names = json.loads((run / "evaluate" / "evaluate.json").read_text())["disentanglement"]["latent_names"]
    session = explorer(model=run, source=str(tmp_path / "t.csv"), data_options={"factors": ["size", "tilt"]})
    server = _serving(session)
    try:
        page = _open(browser, server)
        shown = page.eval_on_selector_all("#sliders label", "labels => labels.map(l => l.textContent)")
        assert shown[:2] == ["z0: size", "z1: tilt"] and names[:2] == ["size", "tilt"]
        assert shown == [f"z{j}: {n}" if n else f"z{j}" for j, n in enumerate(names)]
        assert page.problems == []
    finally:
        server.stop()
