"""The explorer's model side: every question the page asks, answered from one loaded model.

A request carries only numbers, labels and (for "your own input") an image file's bytes; each
is validated here and refused with a :class:`RequestError` that the server answers as a JSON
message. Nothing here reads a file or loads a model because of a request.

Codes are latent means (``transform``). The map shows them in 2-D: exactly when the code has two
dimensions (or one, on a line), else on their first two principal components, whose inverse maps
a clicked point back to a code (the point of the principal plane through the codes' mean).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import threading

import numpy as np
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state

from ..data.images import decode_reduced, image_array
from ..data.in_memory import in_memory
from ..data.stream import select_rows
from ..detectors import AnomalyDetector
from ..errors import AekitError, InvalidInputError
from ..estimators import inference_batch_size
from ..tasks.factors import dimension_label, latent_names
from ..tasks.latent import check_finite_codes, code_scale, decoding_label, path_codes

MAX_POINTS = 2000  # codes on the map: enough to see the structure, light enough to redraw at once
MAX_LABELS = 50  # more distinct labels than this are values, not groups: the map is not coloured
MAX_PATH_STEPS = 64
MAX_UPLOAD_PIXELS = 40_000_000  # an uploaded image larger than this is refused before decoding
# A request decodes one code (a slider) to a few dozen (a path): padded to this many rows, not
# to the thousands a throughput-sized batch holds (14 ms instead of 0.3 ms for one 8x8 digit).
INTERACTIVE_ROWS = 16
SLIDER_SPAN = 3.0  # sliders run over the codes' centre +- this many standard deviations
# Codes of real data lie within a few units of 0; a code far beyond this decodes to overflow and
# projects to infinities. Input values must fit in 32-bit floats, as the model computes in them.
MAX_ABS_CODE = 1e6
MAX_ABS_VALUE = float(np.finfo(np.float32).max)


class RequestError(InvalidInputError):
    """A request the explorer refuses; its message is what the page shows."""


class Explorer:
    """One fitted model, a sample of the data it describes, and the answers the page needs.

    Parameters
    ----------
    model : fitted aekit estimator
    X : array or rows read on demand, the data to map (at most ``max_points`` rows, sampled)
    y : labels of ``X`` (colours on the map, groups for attribute vectors), optional
    window_channels : for flat windows of a time series (an MLP's input), the number of value
        columns, so that a window is drawn as that many lines; windows of a temporal network are
        ``(channels, time)`` samples already
    feature_names : a table's column names, for the bar charts, or a series' value columns'
        names, for its explanations
    latent_names : a name (or None) per code dimension, shown on its slider ("z3: scale"), e.g.
        ``aekit.tasks.factors.evaluate_factors(...)["latent_names"]`` (default: the attributes a
        model was trained to carry)
    """

    def __init__(self, model, X, y=None, *, window_channels: int | None = None, feature_names=None,
                 max_points: int = MAX_POINTS, random_state=0, anomaly_scores: bool = True,
                 latent_names=None):
        if not isinstance(max_points, int) or isinstance(max_points, bool) or max_points < 2:
            raise InvalidInputError(f"max_points must be an integer >= 2 (a map of one point shows no "
                                    f"structure and calibrates no score), got {max_points!r}")
        if len(X) < 2:
            raise InvalidInputError(f"the explorer needs at least 2 inputs to map, got {len(X)}")
        rng = check_random_state(random_state)
        n = len(X)
        self.rows = np.sort(rng.choice(n, min(n, max_points), replace=False))
        sample = select_rows(X, self.rows)
        self.inputs = in_memory(sample)
        self.model, self.n_rows = model, n
        self._lock = threading.Lock()  # one model call at a time: the server answers in threads
        self.shape = tuple(model.input_shape_)
        self.kind = _kind(model, window_channels)
        self.window_channels = window_channels
        self.feature_names = None if feature_names is None else [str(f) for f in feature_names]
        self.latent_labels = self._latent_labels(latent_names)
        self._labels(y)
        self.codes = check_finite_codes(model.transform(self.inputs).astype(np.float64), "mapped inputs")
        self.projection = _Projection(self.codes)
        self.xy = self.projection.to_2d(self.codes)
        self.centre, self.std = code_scale(model)
        self.std = np.where(self.std > 0, self.std, 1.0)
        flat = self.inputs.reshape(len(self.inputs), -1).astype(np.float64)
        self.low, self.high = float(flat.min()), float(flat.max())
        if not self.high > self.low:
            self.high = self.low + 1.0
        self.detector = None
        self.scores = self._anomaly_scores() if anomaly_scores else None

    # ------------------------------------------------------------------ set-up
    def _labels(self, y) -> None:
        self.label_names, self.label_index = [], None
        if y is None:
            return
        y = np.asarray(y)[self.rows]
        names, index = np.unique(y.astype(str), return_inverse=True)
        if len(names) <= MAX_LABELS:
            self.label_names, self.label_index = names.tolist(), index

    def _latent_labels(self, names) -> list[str]:
        """The sliders' labels: "z3: scale" for a named dimension (``names``, else the model's
        attributes), "z3" for the others."""
        if names is None:
            names = latent_names(self.model)
        names = list(names)
        if len(names) != self.model.latent_dim or not all(n is None or isinstance(n, str) for n in names):
            raise InvalidInputError(f"latent_names must be {self.model.latent_dim} names (str or None)")
        return [dimension_label(j, name) for j, name in enumerate(names)]

    def _anomaly_scores(self):
        """The detector ``aekit detect`` would build, calibrated on every mapped input (each left
        out of its own neighbours): their scores colour the map and are what a new input's
        percentile is read against."""
        try:
            self.detector = AnomalyDetector.from_fitted(self.model, self.inputs,
                                                         calibration_rows=np.arange(len(self.inputs)))
        except AekitError:  # e.g. a conditional model, whose scores need labels
            return None
        return np.asarray(self.detector.validation_scores_, dtype=np.float64)

    # ------------------------------------------------------------------ answers
    def info(self) -> dict:
        model = self.model
        about = {
            "kind": self.kind, "model": type(model).__name__, "input_shape": list(self.shape),
            "latent_dim": int(model.latent_dim), "variational": bool(model.is_variational),
            "conditional": bool(model.is_conditional),
            "classes": [str(c) for c in model.classes_] if model.is_conditional else [],
            "n_points": len(self.rows), "n_rows": int(self.n_rows), "labels": self.label_names,
            "projection": self.projection.name,
            "explained_variance": self.projection.explained_variance,
            "slider_centre": self.centre.tolist(), "slider_std": self.std.tolist(),
            "slider_span": SLIDER_SPAN, "latent_labels": self.latent_labels,
            "scores": self.scores is not None,
            "max_path_steps": MAX_PATH_STEPS, "n_values": int(math.prod(self.shape)),
        }
        if self.kind == "table":
            flat = self.inputs.reshape(len(self.inputs), -1)
            about["feature_names"] = self.feature_names or [f"x{i}" for i in range(flat.shape[1])]
            about["feature_mean"] = flat.mean(0).tolist()
            about["feature_std"] = np.where(flat.std(0) > 0, flat.std(0), 1.0).tolist()
        elif self.kind == "series":
            about["channels"], about["length"] = self._series_shape()
        return about

    def map(self) -> dict:
        return {"xy": np.round(self.xy, 5).tolist(),
                "label": None if self.label_index is None else self.label_index.tolist()}

    def item(self, index) -> dict:
        """A mapped input: itself, its reconstruction, code, place and score."""
        i = _integer(index, "index", 0, len(self.rows) - 1)
        code = self.codes[i]
        answer = {"index": i, "row": int(self.rows[i]), "input": self._display(self.inputs[i:i + 1])[0],
                  "output": self._decode(code[None], None)[0], "code": code.tolist(),
                  "xy": self.xy[i].tolist(),
                  "label": None if self.label_index is None else self.label_names[self.label_index[i]]}
        if self.scores is not None:
            answer.update(self._standing(self.scores[i]))
            answer["why"] = self._why(self.inputs[i:i + 1])
        return answer

    def decode(self, request: dict) -> dict:
        """Decode ``code`` (a latent vector) or ``point`` (a place on the map)."""
        if "code" in request:
            code = self._code(request["code"], "code")
        elif "point" in request:
            point = _vector(request["point"], 2, "point", MAX_ABS_CODE)
            code = self.projection.from_2d(point[None])[0]
        else:
            raise RequestError("give a code or a point to decode")
        return {"code": code.tolist(), "xy": self.projection.to_2d(code[None])[0].tolist(),
                "output": self._decode(code[None], request.get("label"))[0]}

    def path(self, request: dict) -> dict:
        """Decoded steps ``t`` (fractions in [0, 1]) of the path between codes ``a`` and ``b``."""
        a, b = self._code(request.get("a"), "a"), self._code(request.get("b"), "b")
        t = request.get("t")
        if not isinstance(t, list) or not 1 <= len(t) <= MAX_PATH_STEPS:
            raise RequestError(f"t must be a list of 1 to {MAX_PATH_STEPS} fractions")
        t = _vector(t, len(t), "t")
        if t.min() < 0 or t.max() > 1:
            raise RequestError("the fractions t must lie in [0, 1]")
        method = request.get("method", "linear")
        if method not in ("linear", "spherical"):
            raise RequestError("method must be 'linear' or 'spherical'")
        codes = path_codes(a, b, t, method)
        return {"codes": codes.tolist(), "xy": self.projection.to_2d(codes).tolist(),
                "outputs": self._decode(codes, request.get("label"))}

    def attribute(self, request: dict) -> dict:
        """The mean code of group ``to`` minus that of group ``from`` (labels of the data)."""
        if not self.label_names:
            raise RequestError("attribute vectors need labelled data")
        groups = []
        for key in ("to", "from"):
            name = request.get(key)
            if name not in self.label_names:
                raise RequestError(f"{key} must be one of the labels {self.label_names[:10]}")
            groups.append(self.codes[self.label_index == self.label_names.index(name)])
        return {"vector": (groups[0].mean(0) - groups[1].mean(0)).tolist(),
                "n_to": len(groups[0]), "n_from": len(groups[1])}

    def encode(self, request: dict) -> dict:
        """A user's own input (``image``: a file's bytes in base64; ``values``: numbers): its
        code, place on the map, reconstruction, and score among the mapped inputs'."""
        if "image" in request:
            x = self._image(request["image"])
        elif "values" in request:
            x = _vector(request["values"], math.prod(self.shape), "values").reshape(self.shape)
        else:
            raise RequestError("give an image file or the input's values")
        with self._lock, inference_batch_size(INTERACTIVE_ROWS):
            code = self.model.transform(x[None].astype(np.float32)).astype(np.float64)[0]
        if not np.all(np.isfinite(code)):
            raise RequestError("the model's code of this input is not finite: its values lie far outside "
                               "the data the model was trained on")
        answer = {"input": self._display(x[None])[0], "code": code.tolist(),
                  "xy": self.projection.to_2d(code[None])[0].tolist(),
                  "output": self._decode(code[None], request.get("label"))[0]}
        if self.scores is not None:
            with self._lock, inference_batch_size(INTERACTIVE_ROWS):
                score = float(self.detector.anomaly_score(x[None].astype(np.float32))[0])
            if not math.isfinite(score):
                raise RequestError("the anomaly score of this input is not finite: its values lie far "
                                   "outside the data the model was trained on")
            answer.update(self._standing(score))
            answer["why"] = self._why(x[None].astype(np.float32))
        return answer

    # ------------------------------------------------------------------ helpers
    def _standing(self, score: float) -> dict:
        """A score and the share (%) of the mapped inputs that score lower: how unusual it is."""
        return {"score": float(score), "percentile": float(100 * np.mean(self.scores < score)),
                "threshold": float(self.detector.threshold_)}

    def _why(self, x: np.ndarray) -> dict:
        """Where an input's score comes from (``AnomalyDetector.explain``): its top contributors
        in words, each column's or channel's share, and for images a heat map of the pixels'
        contributions (their positive parts, brightest = most)."""
        channels = self.window_channels if self.kind == "series" and len(self.shape) == 1 else None
        names = self.feature_names
        if self.kind == "series" and names is not None and len(names) != self._series_shape()[0]:
            names = None  # the names of a flat window's values, not of its channels
        with self._lock, inference_batch_size(INTERACTIVE_ROWS):
            explanation = self.detector.explain(x, channels=channels, names=names)
        why = {"top": explanation.describe(3)[0], "rest": float(explanation.rest[0])}
        if self.kind == "image":
            heat = np.clip(explanation.contributions[0], 0, None).reshape(self.shape).sum(axis=0)
            heat = np.round(255 * heat / (heat.max() or 1.0)).astype(np.uint8)
            why["heat"] = {"kind": "image", "width": int(heat.shape[1]), "height": int(heat.shape[0]),
                           "channels": 1, "pixels": base64.b64encode(heat.tobytes()).decode("ascii")}
        else:
            why["names"], why["shares"] = list(explanation.names), explanation.shares()[0].round(4).tolist()
        return why

    def _code(self, values, name: str) -> np.ndarray:
        return _vector(values, self.model.latent_dim, name, MAX_ABS_CODE)

    def _decode(self, codes: np.ndarray, label) -> list[dict]:
        label = decoding_label(self.model, label)
        with self._lock, inference_batch_size(INTERACTIVE_ROWS):
            decoded = self.model.inverse_transform(codes.astype(np.float32),
                                                   **({} if label is None else {"y": label}))
        return self._display(decoded)

    def _image(self, text) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        if self.kind != "image":
            raise RequestError("this model reads table rows or windows: give values, not an image")
        if not isinstance(text, str):
            raise RequestError("image must be the file's bytes in base64")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError("image is not valid base64") from None
        channels, height, width = self.shape
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_UPLOAD_PIXELS:
                    raise RequestError(f"the image has {image.width}x{image.height} pixels; the "
                                       f"explorer takes at most {MAX_UPLOAD_PIXELS:,}")
                # Decoded no larger than needed: a large photo for an 8x8 model costs little.
                pixels = image_array(decode_reduced(image, (height, width)), channels, (height, width))
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
            raise RequestError("the file is not an image Pillow can read (PNG, JPEG, BMP, ...)") from None
        # Image files hold 0-255; the model's data may use another range (0-1, 0-16): map onto it.
        return (self.low + pixels / 255.0 * (self.high - self.low)).astype(np.float32)

    def _series_shape(self) -> tuple[int, int]:
        if len(self.shape) == 2:
            return self.shape
        channels = self.window_channels or 1
        return channels, self.shape[0] // channels

    def _display(self, X) -> list[dict]:
        """Samples in the form the page draws: images as 8-bit pixels (H, W, C) in base64, each
        window as one list per channel, table rows as one list."""
        # A code far outside the data's may decode to overflow: show it clipped, never as NaN.
        X = np.nan_to_num(np.asarray(X, dtype=np.float64), posinf=np.finfo(np.float32).max,
                          neginf=np.finfo(np.float32).min)
        if self.kind == "image":
            channels, height, width = self.shape
            shown = X[:, :3] if channels >= 3 else X[:, :1]  # an alpha channel is not shown
            pixels = np.clip((shown - self.low) / (self.high - self.low), 0, 1) * 255
            pixels = np.round(pixels).astype(np.uint8).transpose(0, 2, 3, 1)
            return [{"kind": "image", "width": width, "height": height, "channels": shown.shape[1],
                     "pixels": base64.b64encode(p.tobytes()).decode("ascii")} for p in pixels]
        if self.kind == "series":
            channels, length = self._series_shape()
            return [{"kind": "series", "values": x.reshape(channels, length).tolist()} for x in X]
        return [{"kind": "table", "values": x.reshape(-1).tolist()} for x in X]


class _Projection:
    """Codes to the map's 2-D and back: exact for 2 (and 1) latent dimensions, else PCA."""

    def __init__(self, codes: np.ndarray):
        self.dim = codes.shape[1]
        self.pca, self.explained_variance = None, None
        if self.dim > 2:
            self.pca = PCA(2).fit(codes if len(codes) > 2 else np.vstack([codes, codes + 1e-6]))
            self.explained_variance = self.pca.explained_variance_ratio_.tolist()
        self.name = "pca" if self.pca is not None else "exact"

    def to_2d(self, codes: np.ndarray) -> np.ndarray:
        if self.pca is not None:
            return self.pca.transform(codes)
        return codes if self.dim == 2 else np.column_stack([codes[:, 0], np.zeros(len(codes))])

    def from_2d(self, points: np.ndarray) -> np.ndarray:
        if self.pca is not None:
            return self.pca.inverse_transform(points)
        return points if self.dim == 2 else points[:, :1]


def _kind(model, window_channels) -> str:
    if model.is_image_:
        return "image"
    if len(model.input_shape_) == 2 or window_channels:
        return "series"
    return "table"


def _vector(values, size: int, name: str, limit: float = MAX_ABS_VALUE) -> np.ndarray:
    """``values`` as ``size`` finite numbers within +-``limit``, or a RequestError that says
    what is wrong."""
    if not isinstance(values, list) or len(values) != size:
        raise RequestError(f"{name} must be a list of {size} numbers")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise RequestError(f"{name} must hold numbers only")
    try:
        array = np.array([float(v) for v in values], dtype=np.float64)
    except OverflowError:  # an integer of hundreds of digits
        raise RequestError(f"{name} must hold numbers within +-{limit:.3g}") from None
    if not np.all(np.isfinite(array)):
        raise RequestError(f"{name} must hold finite numbers")
    if np.any(np.abs(array) > limit):
        raise RequestError(f"{name} must hold numbers within +-{limit:.3g}")
    return array


def _integer(value, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise RequestError(f"{name} must be an integer") from None
    if not low <= number <= high:
        raise RequestError(f"{name} must lie in [{low}, {high}]")
    return number
