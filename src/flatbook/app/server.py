"""Build and serve the app: :func:`create_app` and :func:`run`.

Two pages, routed on the path by a ``dcc.Location``: the explainer at ``/`` and the live
dashboard (:mod:`flatbook.app.live_page`, reading the live engine at ``live_url``) at ``/live``.

Everything is served from this machine: Dash's and plotly's JavaScript and CSS
come from the installed packages (``serve_locally``), the page's CSS is inline
and no external stylesheet, script or font is referenced.
"""

from __future__ import annotations

import logging

import dash
from dash import Input, Output, html
from dash.exceptions import DependencyException

from . import DEFAULT_HOST, DEFAULT_PORT, callbacks, explain, layout, live_page

_INDEX = (
    """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
        <style>"""
    + layout.CSS
    + live_page.CSS
    + """</style>
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""
)


def page_for(pathname: str | None, live_url: str = live_page.DEFAULT_LIVE_URL) -> html.Div:
    """The page at this path: the explainer at ``/``, the live dashboard at ``/live``."""
    path = (pathname or "/").rstrip("/") or "/"
    if path == "/":
        return layout.build_layout()
    if path == layout.LIVE_PATH:
        return live_page.build_layout(live_url)
    return layout.not_found(pathname or path)  # (pathname is set here: None and "" are the explainer)


def _no_such_file(e: DependencyException):
    """Flask error handler: an unknown component-suite path answers 404 (Dash raises DependencyException)."""
    return "not found: no such component file", 404, {"Content-Type": "text/plain; charset=utf-8"}


def create_app(warm: bool = True, live_url: str = live_page.DEFAULT_LIVE_URL) -> dash.Dash:
    """The app (explainer and live dashboard); ``warm`` compiles the kernels and precomputes the presets first."""
    if warm:
        callbacks.warm_up()
    app = dash.Dash(
        __name__,
        title=explain.TITLE,
        serve_locally=True,
        external_stylesheets=[],
        external_scripts=[],
        assets_ignore=".*",  # no assets folder: the CSS is inline
        include_assets_files=False,
        # dash documents None ("the title does not change") but annotates str
        update_title=None,  # type: ignore[arg-type]
        compress=False,
    )
    app.index_string = _INDEX
    # a bad /_dash-component-suites/… path is a missing file (404), not a server error with a traceback
    app.server.register_error_handler(DependencyException, _no_such_file)
    app.layout = layout.build_root()
    # dash's documented attribute, which its __init__ sets to None without an annotation
    pages = [layout.build_root(), layout.build_layout(), live_page.build_layout(live_url)]
    app.validation_layout = html.Div(pages)  # type: ignore[assignment]

    @app.callback(Output(layout.PAGE_ID, "children"), Input(layout.URL_ID, "pathname"))
    def _route(pathname):
        return page_for(pathname, live_url)

    callbacks.register(app)
    live_page.register(app, live_url)
    return app


def run(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, live_url: str = live_page.DEFAULT_LIVE_URL) -> None:
    """Serve the app on http://host:port/ (live dashboard at /live, reading ``live_url``) until interrupted."""
    app = create_app(live_url=live_url)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(
        f"flatbook app: serving on http://{host}:{port}/ (Ctrl-C to stop); "
        f"live dashboard at http://{host}:{port}{layout.LIVE_PATH} reading {live_url}",
        flush=True,
    )
    app.run(host=host, port=port, debug=False)
