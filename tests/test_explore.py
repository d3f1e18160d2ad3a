"""aekit explore without a browser: the explorer's answers, the server's refusals, the command."""

from __future__ import annotations

import base64
import io
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from aekit import VAE, AutoEncoder, InvalidInputError
from aekit.data import load
from aekit.explorer import Explorer, RequestError, serve
from conftest import interruptible


@pytest.fixture(scope="module")
def digits():
    data = load("digits")
    return data.X[:400], data.y[:400]


@pytest.fixture(scope="module")
def image_explorer(digits):
    X, y = digits
    model = VAE(latent_dim=3, network="mlp", epochs=2, random_state=0, verbose=0).fit(X)
    return Explorer(model, X, y, max_points=300)


@pytest.fixture(scope="module")
def server(image_explorer):
    server = serve(image_explorer)
    server.start()
    yield server
    server.stop()


def _png(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _pixels(sample: dict) -> np.ndarray:
    data = np.frombuffer(base64.b64decode(sample["pixels"]), np.uint8)
    return data.reshape(sample["height"], sample["width"], sample["channels"])


# ---------------------------------------------------------------------------- the model side
def test_map_samples_at_most_max_points_and_keeps_labels(image_explorer, digits):
    info, points = image_explorer.info(), image_explorer.map()
    assert info["n_points"] == 300 and info["n_rows"] == 400
    assert len(points["xy"]) == 300 and len(points["label"]) == 300
    assert info["projection"] == "pca" and len(info["explained_variance"]) == 2
    rows = image_explorer.rows
    names = info["labels"]
    assert [names[i] for i in points["label"]] == [str(v) for v in digits[1][rows]]


def test_a_clicked_point_decodes_a_code_that_maps_back_to_it(image_explorer):
    answer = image_explorer.decode({"point": [0.3, -0.2]})
    assert np.allclose(answer["xy"], [0.3, -0.2], atol=1e-6)
    assert len(answer["code"]) == 3
    # The code decodes to what decoding it directly gives.
    again = image_explorer.decode({"code": answer["code"]})
    assert again["output"] == answer["output"]


def test_an_item_is_its_input_and_reconstruction_in_display_form(image_explorer, digits):
    answer = image_explorer.item(5)
    row = answer["row"]
    X = digits[0]
    shown = _pixels(answer["input"])[..., 0].astype(float)
    expected = np.round((X[row, 0] - image_explorer.low) / (image_explorer.high - image_explorer.low) * 255)
    assert np.array_equal(shown, expected)
    assert 0 <= answer["percentile"] <= 100 and answer["score"] == pytest.approx(image_explorer.scores[5])
    heat = _pixels(answer["why"]["heat"])[..., 0]  # where its score comes from, brightest = most
    assert heat.shape == X.shape[2:] and heat.max() == 255
    decoded = image_explorer.model.inverse_transform(np.asarray([answer["code"]], np.float32))
    span = image_explorer.high - image_explorer.low
    recon = np.round(np.clip((decoded[0, 0] - image_explorer.low) / span, 0, 1) * 255)
    assert np.array_equal(_pixels(answer["output"])[..., 0], recon)


def test_a_path_starts_and_ends_at_its_endpoints(image_explorer):
    a, b = image_explorer.codes[0], image_explorer.codes[1]
    for method in ("linear", "spherical"):
        answer = image_explorer.path({"a": a.tolist(), "b": b.tolist(), "t": [0, 0.5, 1], "method": method})
        assert np.allclose(answer["codes"][0], a) and np.allclose(answer["codes"][-1], b)
        assert len(answer["outputs"]) == 3 and len(answer["xy"]) == 3
    mid_linear = image_explorer.path({"a": a.tolist(), "b": b.tolist(), "t": [0.5]})["codes"][0]
    assert np.allclose(mid_linear, (a + b) / 2)


def test_an_attribute_vector_is_the_difference_of_group_means(image_explorer):
    answer = image_explorer.attribute({"from": "1", "to": "7"})
    labels = np.asarray(image_explorer.label_names)[image_explorer.label_index]
    expected = image_explorer.codes[labels == "7"].mean(0) - image_explorer.codes[labels == "1"].mean(0)
    assert np.allclose(answer["vector"], expected)
    assert answer["n_to"] == int((labels == "7").sum())


def test_an_uploaded_image_is_read_as_the_model_reads_images(image_explorer, digits):
    X = digits[0]
    # A mapped digit, saved as a larger RGB PNG: resized back and made grey, it lands near its code.
    digit = np.round(X[image_explorer.rows[0], 0] / 255 * 255).astype(np.uint8)
    big = np.asarray(Image.fromarray(digit).resize((32, 32), Image.Resampling.NEAREST).convert("RGB"))
    answer = image_explorer.encode({"image": _png(big)})
    assert _pixels(answer["input"]).shape == (8, 8, 1)
    assert 0 <= answer["percentile"] <= 100
    nearest = np.argmin(np.linalg.norm(image_explorer.codes - np.asarray(answer["code"]), axis=1))
    assert np.linalg.norm(image_explorer.codes[nearest] - answer["code"]) < \
        np.linalg.norm(image_explorer.codes - image_explorer.codes.mean(0), axis=1).mean()


@pytest.mark.parametrize("method, request_body, message", [
    ("decode", {}, "give a code or a point"),
    ("decode", {"code": [1, 2]}, "list of 3 numbers"),
    ("decode", {"code": [1, "x", 2]}, "numbers only"),
    ("decode", {"code": [1, True, 2]}, "numbers only"),
    ("decode", {"point": [1e400, 0]}, "finite"),
    ("path", {"a": [0, 0, 0], "b": [1, 1, 1], "t": [2]}, "[0, 1]"),
    ("path", {"a": [0, 0, 0], "b": [1, 1, 1], "t": list(np.linspace(0, 1, 65))}, "1 to 64"),
    ("path", {"a": [0, 0, 0], "b": [1, 1, 1], "t": [0.5], "method": "cubic"}, "linear"),
    ("attribute", {"from": "1", "to": "cats"}, "one of the labels"),
    ("encode", {"image": "not base64!"}, "not valid base64"),
    ("encode", {"image": base64.b64encode(b"GIF89a broken").decode()}, "not an image"),
    ("encode", {"values": [0.0] * 63}, "list of 64 numbers"),
    ("item", None, "must lie in"),
])
def test_bad_requests_are_refused_with_one_message(image_explorer, method, request_body, message):
    with pytest.raises(RequestError, match=message.replace("[", r"\[").replace("]", r"\]")):
        if method == "item":
            image_explorer.item(300)
        else:
            getattr(image_explorer, method)(request_body)


def test_table_and_window_models_are_shown_in_their_own_form():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5)).astype(np.float32)
    table = Explorer(AutoEncoder(latent_dim=2, epochs=2, verbose=0).fit(X), X,
                     feature_names=list("abcde"))
    info = table.info()
    assert info["kind"] == "table" and info["projection"] == "exact"
    assert info["feature_names"] == list("abcde") and np.allclose(info["feature_mean"], X.mean(0), atol=1e-5)
    assert np.allclose(table.map()["xy"], table.codes, atol=1e-4)  # 2 latent dims: the map is the code
    answer = table.encode({"values": X[3].tolist()})
    assert answer["input"] == {"kind": "table", "values": pytest.approx(X[3].tolist())}
    assert len(answer["output"]["values"]) == 5
    with pytest.raises(RequestError, match="give values"):
        table.encode({"image": _png(np.zeros((8, 8), np.uint8))})
    # Flat windows of two value columns (channel after channel) are drawn as two lines.
    windows = Explorer(AutoEncoder(latent_dim=1, epochs=2, verbose=0).fit(X[:, :4]), X[:, :4],
                       window_channels=2)
    shown = windows.item(0)["input"]
    assert windows.info()["channels"] == 2
    assert np.allclose(shown["values"], X[windows.rows[0], :4].reshape(2, 2))
    assert windows.map()["xy"][0][1] == 0  # one latent dimension: a line


def test_colour_images_are_shown_and_read_in_colour():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(60, 3, 6, 6)).astype(np.uint8)
    explorer = Explorer(AutoEncoder(latent_dim=2, network="mlp", epochs=1, verbose=0).fit(X), X,
                        anomaly_scores=False)
    shown = _pixels(explorer.item(0)["input"])
    assert shown.shape == (6, 6, 3)
    expected = (X[explorer.rows[0]].astype(float) - explorer.low) / (explorer.high - explorer.low) * 255
    assert np.array_equal(shown, np.round(expected).transpose(1, 2, 0))  # (H, W, RGB)
    red = np.zeros((12, 12, 3), np.uint8)
    red[..., 0] = 255
    answer = explorer.encode({"image": _png(red)})  # resized to 6x6, kept in colour
    pixels = _pixels(answer["input"])
    assert pixels.shape == (6, 6, 3) and pixels[..., 0].min() > 200 and pixels[..., 1:].max() < 30
    assert "score" not in answer  # built without anomaly scores


def test_a_conditional_model_decodes_with_the_chosen_label():
    from aekit import ConditionalVAE

    data = load("digits")
    X, y = data.X[:300], data.y[:300]
    model = ConditionalVAE(latent_dim=2, network="mlp", epochs=2, random_state=0, verbose=0).fit(X, y)
    explorer = Explorer(model, X, y)
    info = explorer.info()
    assert info["conditional"] and info["classes"] == [str(c) for c in model.classes_]
    code = [0.0, 0.0]
    as_one, as_seven = (explorer.decode({"code": code, "label": label})["output"] for label in ("1", "7"))
    assert as_one != as_seven
    first_class = explorer.decode({"code": code, "label": "0"})["output"]
    assert explorer.decode({"code": code})["output"] == first_class  # no label: the first class
    with pytest.raises(InvalidInputError, match="not one of the model's classes"):
        explorer.decode({"code": code, "label": "cat"})


# ---------------------------------------------------------------------------- the server
def _call(server, path, body=None, headers=None, raw=None):
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url.rstrip("/") + path, data=data, headers={
        **({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_the_server_serves_the_page_and_answers_in_json(server):
    status, headers, body = _call(server, "/")
    assert status == 200 and b"explore.js" in body
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]  # no page may frame it
    status, headers, body = _call(server, "/api/decode", {"point": [0, 0]})
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert set(json.loads(body)) == {"code", "xy", "output"}


def test_in_a_notebook_explore_returns_at_once_and_shows_the_page_inline(digits, monkeypatch):
    """A notebook cell must not block: explore serves in the background and its result, shown as
    the cell's output, is the page in a frame that Jupyter's local page may show."""
    import aekit
    import aekit.explorer

    X, y = digits
    model = AutoEncoder(latent_dim=2, epochs=1, random_state=0, verbose=0).fit(X[:100])
    monkeypatch.setattr(aekit.explorer, "in_notebook", lambda: True)
    server = aekit.explore(model, X[:100], y[:100])  # would block forever outside a notebook
    try:
        shown = server._repr_html_()
        assert f'<iframe src="{server.url}"' in shown
        status, headers, body = _call(server, "/")
        assert status == 200 and b"explore.js" in body
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors http://localhost:* http://127.0.0.1:*" in policy
        assert "frame-ancestors 'none'" not in policy
    finally:
        server.stop()


@pytest.mark.parametrize("path, body, headers, raw, status, message", [
    ("/api/decode", {"code": [1]}, None, None, 400, "list of 3 numbers"),
    ("/api/decode", None, None, b"{not json", 400, "not valid JSON"),
    ("/api/decode", None, None, b"[1, 2]", 400, "JSON object"),
    ("/api/decode", {"point": [0, 0]}, {"Content-Type": "text/plain"}, None, 415, "application/json"),
    ("/../../etc/passwd", None, None, None, 404, "no such page"),
    ("/api/item?index=zero", None, None, None, 400, "integer"),
    ("/api/info", None, {"Host": "attacker.example:80"}, None, 403, "answers only"),
])
def test_the_server_refuses_bad_requests_with_a_json_message(server, path, body, headers, raw, status,
                                                             message):
    got, _, answer = _call(server, path, body, headers, raw)
    assert got == status
    error = json.loads(answer)["error"]
    assert message in error and "Traceback" not in error


def test_an_oversized_body_is_refused_before_it_is_read(server):
    request = urllib.request.Request(server.url + "api/encode", data=b"{}", method="POST", headers={
        "Content-Type": "application/json", "Content-Length": str(64 << 20)})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 413 and "at most" in json.loads(caught.value.read())["error"]


def test_a_bug_answers_500_without_a_traceback(server, monkeypatch, capsys):
    monkeypatch.setattr(type(server.explorer), "map", lambda self: 1 / 0)
    status, _, body = _call(server, "/api/map")
    assert status == 500
    assert json.loads(body)["error"] == "internal error (ZeroDivisionError); see the server's terminal"


# ---------------------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from aekit import verbs

    run = tmp_path_factory.mktemp("explore") / "run"
    verbs.train.train(source="digits", preset="AutoEncoder", out=run,
                   params={"latent_dim": 2, "epochs": 1, "verbose": 0})
    return run


def test_the_command_serves_a_run_until_ctrl_c(run):
    command = [sys.executable, "-m", "aekit", "explore", str(run), "--port", "0", "--max-points", "50"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=interruptible)
    try:
        line = process.stdout.readline()
        assert line.startswith("aekit: explore: http://127.0.0.1:"), line + process.stderr.read()
        url = line.split()[2]
        with urllib.request.urlopen(url + "api/info", timeout=30) as response:
            info = json.loads(response.read())
        assert info["n_points"] == 50 and info["labels"] == [str(d) for d in range(10)]  # the run's digits
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "aekit: explore: stopped" in err and "Traceback" not in err


def test_data_read_from_disk_is_mapped_without_loading_it_whole(run, tmp_path):
    from aekit import verbs
    from aekit.data.stream import RowSource

    X = load("digits").X
    np.save(tmp_path / "digits.npy", X)
    explorer = verbs.explore.explorer(model=run / "model", source=str(tmp_path / "digits.npy"),
                                 data_options={"stream": True}, max_points=100)
    assert isinstance(load(str(tmp_path / "digits.npy"), stream=True).X, RowSource)
    assert explorer.info()["n_rows"] == len(X) and len(explorer.inputs) == 100
    assert np.array_equal(explorer.inputs, X[explorer.rows])


def test_the_command_refuses_a_model_folder_without_data_and_a_busy_port(run, capsys):
    from aekit import verbs
    from aekit.cli import main

    assert main(["explore", str(run / "model")]) == 2
    assert "give the data to map with --data" in capsys.readouterr().err
    blocker = serve(Explorer(verbs.common.load_model(run), load("digits").X[:20], anomaly_scores=False))
    try:
        port = str(blocker.server_address[1])
        assert main(["explore", str(run), "--port", port, "--max-points", "20"]) == 2
    finally:
        blocker.server_close()
    err = capsys.readouterr().err
    assert f"cannot serve on 127.0.0.1:{port}" in err and len(err.strip().splitlines()) == 1


def test_the_python_api_serves_in_the_background_until_stopped(capsys):
    import aekit

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4)).astype(np.float32)
    model = AutoEncoder(latent_dim=2, epochs=1, verbose=0).fit(X)
    server = aekit.explore(model, X, np.repeat(["a", "b"], 20), block=False, max_points=30)
    try:
        assert capsys.readouterr().out == f"aekit: explore: {server.url} (server.stop() stops it)\n"
        status, _, body = _call(server, "/api/info")
        assert status == 200 and json.loads(body)["labels"] == ["a", "b"]
    finally:
        server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url + "api/info", timeout=5)


def test_listening_on_every_interface_warns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3)).astype(np.float32)
    explorer = Explorer(AutoEncoder(latent_dim=2, epochs=1, verbose=0).fit(X), X, anomaly_scores=False)
    with pytest.warns(UserWarning, match="every network interface"):
        server = serve(explorer, host="0.0.0.0")
    server.server_close()
    assert server.allowed_hosts is None  # any Host header: the user chose to be reachable
