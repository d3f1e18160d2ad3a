"""``aekit explore``: a fitted model's latent space in the browser (docs/explore.md).

:func:`explore` serves the page for a model and data in memory; ``aekit explore RUN_OR_MODEL``
does the same for a folder. ``session.Explorer`` answers the page's questions, ``server`` serves
them, ``static/`` is the page itself (plain HTML, CSS and JavaScript: no build step, nothing
fetched from the network).
"""

from __future__ import annotations

import sys
import warnings
import webbrowser

from .server import LOCAL_PAGES, ExplorerServer
from .session import MAX_POINTS, Explorer, RequestError

__all__ = ["MAX_POINTS", "Explorer", "ExplorerServer", "RequestError", "explore", "serve",
           "serve_until_interrupted"]

OPEN_HOSTS = ("0.0.0.0", "::", "")


def serve(explorer: Explorer, host: str = "127.0.0.1", port: int = 0) -> ExplorerServer:
    """An :class:`ExplorerServer` bound to ``host:port`` (0: a free port), not yet serving."""
    if host in OPEN_HOSTS:
        warnings.warn(f"the explorer listens on every network interface ({host or 'all'}): anyone who "
                      "can reach this machine can use it (it runs your model; it reads no files)",
                      stacklevel=2)
    return ExplorerServer(explorer, host, port)


def explore(model, X, y=None, *, host: str = "127.0.0.1", port: int = 0, open_browser: bool = False,
            block: bool | None = None, feature_names=None, window_channels: int | None = None,
            max_points: int = MAX_POINTS, latent_names=None) -> ExplorerServer:
    """Explore ``model``'s latent space in the browser, with ``X`` (labels ``y``) on the map.

    Prints the page's address. ``block=True`` serves until Ctrl-C; ``block=False`` serves in a
    background thread and returns the server at once (``server.url``, ``server.stop()``). The
    default blocks in a terminal and not in a Jupyter notebook, where the returned server, as a
    cell's output, shows the page inline. ``feature_names`` labels a table's columns (or a
    series' channels);
    ``window_channels`` draws flat windows of a series with that many value columns as lines.
    ``latent_names``: a name (or None) per code dimension for its slider ("z3: scale"; default:
    the attributes the model was trained to carry).
    """
    explorer = Explorer(model, X, y, feature_names=feature_names, window_channels=window_channels,
                        max_points=max_points, latent_names=latent_names)
    server = serve(explorer, host, port)
    if block is None:
        block = not in_notebook()
        if not block:  # shown inline: Jupyter's page (on this machine) may frame it
            server.frame_ancestors = LOCAL_PAGES
    if block:
        serve_until_interrupted(server, open_browser)
    else:
        _announce(server, open_browser, "server.stop() stops it")
        server.start()
    return server


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (where a cell's output can show a page)."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def serve_until_interrupted(server: ExplorerServer, open_browser: bool = False) -> None:
    """Print the page's address, open it if asked, and serve until Ctrl-C."""
    _announce(server, open_browser, "Ctrl-C stops it")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("aekit: explore: stopped", file=sys.stderr)
    finally:
        server.server_close()


def _announce(server: ExplorerServer, open_browser: bool, how_to_stop: str) -> None:
    print(f"aekit: explore: {server.url} ({how_to_stop})", flush=True)
    if open_browser:
        webbrowser.open(server.url)
