"""Build and serve the explainer: :func:`create_app` and :func:`run`.

Everything is served from this machine: Dash's and plotly's JavaScript and CSS
come from the installed packages (``serve_locally``), the page's CSS is inline
and no external stylesheet, script or font is referenced.
"""
from __future__ import annotations

import logging

import dash

from . import DEFAULT_HOST, DEFAULT_PORT, callbacks, explain, layout

_INDEX = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
        <style>""" + layout.CSS + """</style>
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


def create_app(warm: bool = True) -> dash.Dash:
    """The explainer as a Dash app; ``warm`` compiles the kernels and precomputes the presets first."""
    if warm:
        callbacks.warm_up()
    app = dash.Dash(
        __name__,
        title=explain.TITLE,
        serve_locally=True,
        external_stylesheets=[],
        external_scripts=[],
        assets_ignore=".*",            # no assets folder: the CSS is inline
        include_assets_files=False,
        update_title=None,
        compress=False,
    )
    app.index_string = _INDEX
    app.layout = layout.build_layout()
    callbacks.register(app)
    return app


def run(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve the explainer on http://host:port/ until interrupted."""
    app = create_app()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"flatbook app: serving on http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    app.run(host=host, port=port, debug=False)
