"""The documentation site builds with warnings as errors, from the docstrings, the parser and the
executed tutorials: nothing on it can drift from the code without this failing."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import aekit
import aekit.data
import aekit.detectors
from aekit.cli import verb_parsers

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.ipynb"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _documented() -> set[str]:
    return set(re.findall(r"^::: ([\w.]+)", (ROOT / "docs" / "api.md").read_text(), re.M))


def test_the_api_page_documents_every_public_name():
    documented = _documented()
    expected = {f"aekit.{name}" for name in aekit.__all__ if name != "__version__"}
    expected |= {f"aekit.data.{name}" for name in aekit.data.__all__}
    expected |= {f"aekit.detectors.{name}" for name in aekit.detectors.__all__
                 if f"aekit.{name}" not in documented}  # (shown once, under aekit.)
    expected |= {"aekit.tasks.encode", "aekit.tasks.latent", "aekit.tasks.restore", "aekit.tasks.density",
                 "aekit.callbacks.TensorBoardLogger", "aekit.training.EpochReport",
                 "aekit.estimators.BaseAutoEncoder"}
    assert expected <= documented, sorted(expected - documented)


def test_the_site_builds_strictly_with_the_api_cli_and_executed_tutorials(site):
    api = (site / "api" / "index.html").read_text()
    for name in ("VAE", "AnomalyDetector", "DataOptions", "inference_batch_size", "log_likelihood"):
        assert name in api, name
    assert "importance-sampled" in api  # a docstring's text, not just the names
    index = (site / "cli" / "index.html").read_text()
    for name, parser in verb_parsers().items():
        assert f"aekit {name}" in index, name
        page = (site / "cli" / name / "index.html").read_text()  # one page per verb
        for action in parser._actions:
            for flag in action.option_strings:
                assert flag in page, (name, flag)
    assert TUTORIALS, "no tutorial notebooks"
    for notebook in TUTORIALS:
        page = (site / "tutorials" / notebook.stem / "index.html").read_text()
        assert page.count("data:image/png") >= 1, f"{notebook.name}: no figure in its executed output"
        assert "Traceback" not in page, notebook.name


def test_every_public_callable_has_a_docstring():
    missing = [f"aekit.{name}" for name in aekit.__all__ if name != "__version__"
               and callable(getattr(aekit, name)) and not inspect.getdoc(getattr(aekit, name))]
    assert not missing, missing
