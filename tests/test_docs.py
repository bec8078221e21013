"""The documentation site builds strictly, shows the API, and fails on a broken reference.

The site (mkdocs.yml, docs/) is built as ``make docs`` builds it: ``mkdocs build --strict``,
in a subprocess, into a temporary directory. Any warning — a broken link, an object
mkdocstrings cannot collect, a docstring cross-reference to a name that does not exist —
fails the build, and so this test. mkdocs-material and mkdocstrings come with the
``[docs]`` extra (pulled in by ``[test]``); without them the build fails here, it is not
skipped.
"""

from __future__ import annotations

import ast
import html as htmllib
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "docs" / "_build" / "sphinx_roles.py"


def _mkdocs(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)]
    return subprocess.run(cmd, check=False, cwd=config.parent, env=env, capture_output=True, text=True, timeout=300)


def _text(html: str) -> str:
    """The page's text, tags removed (for assertions on what a reader sees)."""
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "site"
    r = _mkdocs(ROOT / "mkdocs.yml", out)
    hint = " (install the docs extra: pip install -e '.[docs]')" if "No module named" in r.stderr else ""
    assert r.returncode == 0, f"mkdocs build --strict failed{hint}:\n" + r.stdout[-4000:] + r.stderr[-8000:]
    return out


def test_key_pages_exist(site):
    for page in [
        "index.html",
        "examples.html",
        "reference/index.html",
        "reference/api.html",
        "reference/results.html",
        "guide/policies.html",
        "guide/controls.html",
        "guide/simulation.html",
        "guide/backtest.html",
        "guide/hedging.html",
        "guide/risk.html",
        "guide/live.html",
        "reference/policies.html",
        "reference/controls.html",
        "reference/sim.html",
        "reference/backtest.html",
        "reference/core.html",
        "search/search_index.json",
        "cli.html",
        "architecture.html",
    ]:
        assert (site / page).is_file(), page


def test_architecture_page_is_architecture_md(site):
    """The page includes ARCHITECTURE.md itself (not a copy that could drift)."""
    md = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", md, flags=re.MULTILINE)
    assert headings
    text = _text((site / "architecture.html").read_text(encoding="utf-8"))
    for heading in headings:
        assert heading.strip() in text, heading


def test_cli_page_lists_every_command(site):
    """The command line's page is generated from the typer app: every command and its options."""
    text = _text((site / "cli.html").read_text(encoding="utf-8"))
    for command in ["simulate", "compare", "quote", "backtest", "calibrate", "risk", "live", "data inspect"]:
        assert f"flatbook {command}" in text, command
    for option in ["--preset", "--policy", "--set", "--paths", "--seed", "--latency-ms"]:
        assert option in text, option


def test_reference_shows_the_api(site):
    api = (site / "reference" / "api.html").read_text(encoding="utf-8")
    for name in ["simulate", "compare", "quote", "backtest", "calibrate", "sweep", "risk", "schedule", "run_config"]:
        assert re.search(rf'id="flatbook\.api\.[a-z_]+\.{name}"', api), name
    # Generated pages: every public module, with its functions' anchors.
    controls = (site / "reference" / "controls.html").read_text(encoding="utf-8")
    assert 'id="flatbook.controls.quote_controls.control_quotes"' in controls
    core = (site / "reference" / "core.html").read_text(encoding="utf-8")
    assert 'id="flatbook.config.RunConfig"' in core and 'id="flatbook.errors.InputError"' in core
    policies = (site / "reference" / "policies.html").read_text(encoding="utf-8")
    assert 'id="flatbook.policies.glft_solution.glft_constants"' in policies
    # The interface for your own policy, wherever in flatbook.policies it is defined.
    for name in ["policy", "Param", "Policy", "table_policy", "load_policy_file"]:
        assert re.search(rf'id="flatbook\.policies\.[a-z_]+\.{name}"', policies), name
    results = (site / "reference" / "results.html").read_text(encoding="utf-8")
    for name in ["Quantity", "Summary", "SimulationResult", "ComparisonResult", "BacktestResult", "QuoteResult"]:
        assert re.search(rf'id="flatbook\.results\.[a-z_]+\.{name}"', results), name


def test_sphinx_roles_become_links(site):
    """``:func:`control_quotes``` in quote_controls' docstring links to the function's anchor."""
    controls = (site / "reference" / "controls.html").read_text(encoding="utf-8")
    assert re.search(
        r'<a [^>]*href="#flatbook\.controls\.quote_controls\.control_quotes"[^>]*>'
        r"<code>control_quotes\(\)</code></a>",
        controls,
    )
    assert ":func:`" not in _text(controls)


def test_policies_page_has_the_five_formulas_and_their_sources(site):
    """Each built-in policy's formula, as its module's docstring writes it, and its source."""
    text = _text((site / "guide" / "policies.html").read_text(encoding="utf-8"))
    for needle in [
        "Stoll (1978)",
        "Avellaneda & Stoikov (2008)",
        "Guéant, Lehalle & Fernandez-Tapia (2013)",
        "seed 001",
        "seed 000",
    ]:
        assert needle in text, needle
    for module in ["symmetric", "linear_skew", "stoll", "avellaneda_stoikov", "glft"]:
        doc = ast.get_docstring(ast.parse((ROOT / "src" / "flatbook" / "policies" / f"{module}.py").read_text("utf-8")))
        formula = next(line.strip() for line in doc.splitlines() if line.startswith("    ") and line.strip())
        assert " ".join(formula.split()) in text, (module, formula)


def test_examples_page_shows_every_example(site):
    text = _text((site / "examples.html").read_text(encoding="utf-8"))
    scripts = sorted(p.name for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
    assert scripts
    for name in scripts:
        assert name in text, name
    assert "examples/books/two_stocks.toml" in text


def test_site_is_offline(site):
    """No Google fonts and no script or stylesheet from another host: the site opens offline."""
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "fonts.googleapis" not in html, page
        assert not re.search(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', html), page


def _load_ext():
    spec = importlib.util.spec_from_file_location("sphinx_roles", EXT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_broken_cross_reference_fails_the_strict_build(tmp_path):
    """A docstring naming a function that does not exist fails the build, naming file and line."""
    pkg = tmp_path / "src" / "flatbook"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""A package."""\n')
    (pkg / "mod.py").write_text(
        textwrap.dedent('''\
        """A module.

        Calls :func:`helper` and :func:`flatbook.mod.gone`.
        """


        def helper(x):
            """Return x (see :class:`~flatbook.mod.Thing`)."""
            return x


        class Thing:
            """A thing."""
        ''')
    )
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Test\n\n::: flatbook.mod\n")
    (tmp_path / "mkdocs.yml").write_text(
        textwrap.dedent(f"""\
        site_name: t
        plugins:
          - mkdocstrings:
              handlers:
                python:
                  paths: [src]
                  options:
                    docstring_style: numpy
                    extensions: [{EXT}]
        """)
    )
    r = _mkdocs(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert r.returncode != 0
    log = r.stdout + r.stderr
    assert "docs_sphinx_roles: src/flatbook/mod.py:3: broken cross-reference :func:`flatbook.mod.gone`" in log
    assert log.count("broken cross-reference") == 1  # :func:`helper` and :class:`~flatbook.mod.Thing` resolve
    # Fixed, it builds, and both good references are links.
    (pkg / "mod.py").write_text((pkg / "mod.py").read_text().replace(" and :func:`flatbook.mod.gone`", ""))
    r = _mkdocs(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert r.returncode == 0, r.stderr[-4000:]
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert 'href="#flatbook.mod.helper"' in html and 'href="#flatbook.mod.Thing"' in html


def test_markdownify_reads_the_docstrings_rest_habits():
    ext = _load_ext()
    table = textwrap.dedent("""\
        Columns:

        ======  =====  ==========
        column  dtype  meaning
        ======  =====  ==========
        ts      int64  time, ns
        side    int8   +1 buyer,
                       −1 seller
        ======  =====  ==========
        """)
    assert ext.markdownify(table).split("\n")[2:7] == [
        "| column | dtype | meaning |",
        "|---|---|---|",
        "| ts | int64 | time, ns |",
        "| side | int8 | +1 buyer, −1 seller |",
        "",
    ]
    assert ext.markdownify("Models:\n- abm\n- gbm") == "Models:\n\n- abm\n- gbm"
    assert ext.markdownify("J(k) = E[PnL](k), `a](b`") == "J(k) = E[PnL]\\(k), `a](b`"


def test_python_examples_in_the_pages_print_what_they_say():
    """Every Python block of the pages runs; an expression commented with a value shows that value.

    ``res.summary["pnl_mean"]  # 67.5914 ± 0.16 price units × lots``: the comment is the
    expression's ``str``, so a page cannot show a number the code no longer gives.
    """
    checked = 0
    pages = sorted((ROOT / "docs").rglob("*.md"))
    for page in pages:
        for block in re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.DOTALL):
            lines, ns = block.splitlines(), {}
            for node in ast.parse(block).body:
                comment = lines[node.end_lineno - 1].partition("  # ")[2].strip()
                if isinstance(node, ast.Expr) and comment:
                    value = eval(compile(ast.Expression(node.value), str(page), "eval"), ns)
                    assert str(value) == comment, (page.name, ast.unparse(node), str(value), comment)
                    checked += 1
                else:
                    exec(compile(ast.Module([node], type_ignores=[]), str(page), "exec"), ns)
    assert checked >= 6
