"""mkdocs hooks for flatbook's site: the API reference, the command line and the examples, generated at build time.

- **API reference.** One page per subpackage of ``src/flatbook`` (and one, ``core``, for the
  top-level modules), each the package's docstring followed by every public submodule rendered
  by mkdocstrings. The pages are generated from the source tree at each build, so a new or
  moved module appears by itself; a module that mkdocstrings cannot collect fails the strict
  build. They are added to the "API reference" section of the navigation, after the pages
  written by hand there (mkdocs.yml).
- **Command line.** ``cli.md``: every command of ``flatbook``, its help and options, read from
  the typer app (imported, not run).
- **Examples.** The marker ``<!-- flatbook:examples -->`` in a page is replaced by every
  ``examples/*.py`` script: its docstring as the text, its source in a collapsible block, and
  the TOML files of ``examples/*/``. The scripts are run by the test suite, so what the site
  shows is code that runs.

Loaded by mkdocs.yml (``hooks:``). Besides mkdocs it uses the standard library, and for the
command line's page flatbook's own CLI (typer, click).
"""

from __future__ import annotations

import ast
import html
import importlib.util
import re
from pathlib import Path

from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Navigation, Page, Section

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "flatbook"
EXAMPLES = ROOT / "examples"
REFERENCE_SECTION = "API reference"
MARKER = "<!-- flatbook:examples -->"
PAGES_MARKER = "<!-- flatbook:reference-pages -->"

# Subpackages documented elsewhere or not part of the library's reference.
SKIP_PACKAGES = {
    "cli": "the command line: `flatbook --help` and each command's --help are its reference",
}
# Pages written by hand in docs/reference/ for these packages (the public API); not generated.
HAND_WRITTEN = {"api", "results"}
# The order of generated pages in the navigation (anything else follows, alphabetically).
ORDER = [
    "policies",
    "controls",
    "market",
    "hedging",
    "numerics",
    "estimators",
    "strategy",
    "sim",
    "backtest",
    "live",
    "multi",
    "calibrate",
    "risk",
    "sweep",
    "report",
    "app",
    "data",
    "core",
]  # ARCHITECTURE.md's layers, model up; core last
TITLES = {
    "policies": "Policies",
    "controls": "Controls",
    "market": "Market models",
    "numerics": "Numerics",
    "estimators": "Estimators",
    "strategy": "Strategy",
    "sim": "Simulation",
    "multi": "Several instruments",
    "data": "Market data",
    "backtest": "Backtest",
    "calibrate": "Calibration",
    "hedging": "Hedging",
    "risk": "Portfolio risk",
    "sweep": "Sweeps",
    "live": "Live",
    "report": "Reports and figures",
    "app": "Explainer app",
    "core": "Core: parameters, presets, config, errors, files",
}

# What a package is, for the reference index, when its __init__ has no docstring.
FALLBACK_SUMMARIES = {
    "policies": "The quoting policies: one module per formula, the registry and quotes for given states.",
    "controls": "The controls that wrap any policy: hard limit, soft zones, kill switch, never-cross.",
    "market": "The simulator's market: mid-price models, order flow, costs.",
    "numerics": "Numerical building blocks of the compiled kernels: per-path random numbers, a vectorisable exp, Black–Scholes.",
    "sim": "The Monte Carlo simulator: the compiled kernel, its driver and the summary statistics.",
    "core": "Parameters, presets, the validated run configuration, errors, atomic file writes, JSON helpers.",
}
_generated: list[tuple[str, str]] = []  # (package, src_uri) of the pages made by on_files

_spec = importlib.util.spec_from_file_location(
    "flatbook_docs_sphinx_roles", Path(__file__).with_name("sphinx_roles.py")
)
_roles = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_roles)


def _example_text(doc: str) -> str:
    """An example's docstring as Markdown: reST habits fixed, roles as (checked) autorefs.

    A role naming a flatbook object becomes a required cross-reference: an example that names
    an object the site does not document fails the strict build.
    """

    def sub(m: re.Match) -> str:
        role, target = m[1], m["body"].strip()
        short = target.startswith("~")
        target = target.lstrip("~")
        shown = target.rsplit(".", 1)[-1] if short else target
        shown += "()" if role in _roles.CALLABLE_ROLES else ""
        if target.startswith(_roles.ROOT + "."):
            return f"[`{shown}`][{target}]"
        return f"`{shown}`"

    return _roles.ROLE.sub(sub, _roles.markdownify(doc))


def _public_modules(pkg_dir: Path, dotted: str) -> list[str]:
    """Dotted names of the public modules under a package directory, depth first, in file order."""
    out = []
    for path in sorted(pkg_dir.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        if path.is_dir() and (path / "__init__.py").exists():
            out.append(f"{dotted}.{path.name}")
            out.extend(_public_modules(path, f"{dotted}.{path.name}"))
        elif path.suffix == ".py":
            out.append(f"{dotted}.{path.stem}")
    return out


def _exports(init: Path) -> list[str]:
    """A package's ``__all__`` when it is a literal list or tuple of names (else empty)."""
    try:
        tree = ast.parse(init.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return []
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            and isinstance(node.value, (ast.List, ast.Tuple))
        ):
            return [e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def _static_names(init: Path) -> set[str]:
    """Names an ``__init__.py`` binds when it runs (imports, defs, classes, assignments), read statically."""
    try:
        tree = ast.parse(init.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _package_page(name: str) -> str:
    """The Markdown of one generated reference page.

    A package's docstring, then the names it exports, then every public module. Exported
    names that the package imports when it runs are shown in full at the package (its public
    API) and left out of their modules; names it loads lazily (PEP 562) are documented in
    their modules, and the package lists them with links there.
    """
    title = TITLES.get(name, name)
    exported: list[str] = []
    if name == "core":
        mods = [f"flatbook.{p.stem}" for p in sorted(SRC.glob("*.py")) if not p.name.startswith("_")]
        lines = [
            f"# {title}",
            "",
            (
                "The modules at the root of the package: the parameter registry, presets, the validated run "
                "configuration, errors, atomic files, JSON helpers ([Architecture](../architecture.md) gives the "
                "layer of each)."
            ),
            "",
        ]
    else:
        init = SRC / name / "__init__.py"
        mods = _public_modules(SRC / name, f"flatbook.{name}")
        names = _exports(init)
        static, lazy = _static_names(init), _roles.lazy_table(init, f"flatbook.{name}")
        # An exported name that is also a submodule's name (``flatbook.data.load``, function and
        # module) is documented in its module only: one anchor per identifier.
        exported = [
            e
            for e in names
            if e in static and e not in lazy and not (SRC / name / f"{e}.py").exists() and not (SRC / name / e).is_dir()
        ]
        lines = [
            f"# {title}: `flatbook.{name}`",
            "",
            f"::: flatbook.{name}",
            "    options:",
            "      show_root_heading: false",
            "      show_root_toc_entry: false",
        ]
        lines += ["      members: [" + ", ".join(exported) + "]" if exported else "      members: false", ""]
        lazily = [e for e in names if e in lazy]
        if lazily:
            links = ", ".join(f"[`{e}`][{lazy[e]}.{e}]" for e in lazily)
            lines += [
                f"Names of `flatbook.{name}` (loaded on first use; documented in their modules below): {links}.",
                "",
            ]
        if exported or lazily:
            lines += ["## Modules", ""]
    for mod in mods:
        lines += [f"::: {mod}"]
        if exported:
            lines += ["    options:", "      filters: [" + ", ".join(['"!^_"'] + [f'"!^{e}$"' for e in exported]) + "]"]
        lines += [""]
    return "\n".join(lines)


def reference_pages() -> list[tuple[str, str, str]]:
    """(title, page path under docs/, one-line summary) of every generated reference page."""
    out = []
    for name in _packages():
        init = SRC / name / "__init__.py"
        summary = " ".join(_docstring(init).split("\n\n", 1)[0].split()) if name != "core" else ""
        summary = summary or FALLBACK_SUMMARIES.get(name, "")
        summary = _roles.ROLE.sub(lambda m: f"`{m['body'].strip().lstrip('~').rsplit('.', 1)[-1]}`", summary)
        out.append((TITLES.get(name, name), f"reference/{name}.md", summary))
    return out


def _packages() -> list[str]:
    names = [
        p.name
        for p in SRC.iterdir()
        if p.is_dir()
        and (p / "__init__.py").exists()
        and not p.name.startswith("_")
        and p.name not in SKIP_PACKAGES
        and p.name not in HAND_WRITTEN
    ]
    names.append("core")
    rank = {n: i for i, n in enumerate(ORDER)}
    return sorted(names, key=lambda n: (rank.get(n, len(ORDER)), n))


def _cli_markdown() -> str:
    """The command line's reference, read from the typer app itself (help texts, options, defaults).

    The CLI is imported (not run): its root loads the command modules lazily, so this costs
    about half a second. Each command's ``--help`` prints the same texts.
    """
    import click  # imported here: only this page needs the CLI (typer, click) at build time
    import typer.main

    from flatbook.cli.root import app

    root = typer.main.get_command(app)
    ctx = click.Context(root, info_name="flatbook")
    lines = [
        "# Command line",
        "",
        (
            "Every command, with its options, as `flatbook COMMAND --help` prints them (this page is "
            "generated from the command line's own definitions). Common to most: `--preset`, `--policy`, "
            "`--set key=value` (any parameter of `flatbook params`, repeatable), `--config FILE.toml`, "
            "`--paths`, `--seed`, `--json`, `--out DIR` and `--report FILE.html`. Bad input exits with "
            "status 2 and one line naming the field; Ctrl-C exits 130."
        ),
        "",
    ]

    def cell(text: object) -> str:
        return " ".join(str(text).split()).replace("|", "\\|")

    def command(cmd: click.Command, cctx: click.Context, name: str) -> None:
        if getattr(cmd, "hidden", False):
            return
        if isinstance(cmd, click.Group):
            for sub in cmd.list_commands(cctx):
                child = cmd.get_command(cctx, sub)
                command(child, click.Context(child, info_name=sub, parent=cctx), f"{name} {sub}")
            return
        usage = " ".join(cmd.collect_usage_pieces(cctx))
        text = (cmd.help or "").strip()
        first, _, rest = text.partition("\n\n")
        lines.extend([f"## `{name}`", "", first.replace("\n", " "), "", "```", f"{name} {usage}", "```", ""])
        if rest:
            lines.extend([rest, ""])
        rows = []
        for p in cmd.params:
            if getattr(p, "hidden", False):
                continue
            opts = ", ".join(f"`{o}`" for o in [*p.opts, *getattr(p, "secondary_opts", [])])
            if isinstance(p, click.Argument):
                opts = f"`{p.metavar or p.name.upper()}` (argument)"
            elif p.metavar and not getattr(p, "is_flag", False):
                opts += f" `{p.metavar}`"
            default = p.default if p.default not in (None, False, (), []) and not callable(p.default) else ""
            rows.append(f"| {opts} | {cell(getattr(p, 'help', '') or '')} | {cell(default)} |")
        if rows:
            lines.extend(["| option | meaning | default |", "| --- | --- | --- |", *rows, ""])

    for name in root.list_commands(ctx):
        cmd = root.get_command(ctx, name)
        command(cmd, click.Context(cmd, info_name=name, parent=ctx), f"flatbook {name}")
    return "\n".join(lines)


def on_files(files: Files, config) -> Files:
    """Add the generated API reference pages and the command line's page."""
    if files.get_file_from_path("cli.md") is None:
        files.append(File.generated(config, "cli.md", content=_cli_markdown()))
    _generated.clear()
    for name in _packages():
        uri = f"reference/{name}.md"
        if files.get_file_from_path(uri) is not None:  # written by hand: keep it
            continue
        file = File.generated(config, uri, content=_package_page(name))
        file.inclusion = InclusionLevel.NOT_IN_NAV  # on_nav adds it: no "not in nav" warning
        files.append(file)
        _generated.append((name, uri))
    return files


def on_nav(nav: Navigation, config, files: Files) -> Navigation:
    """Put the generated pages into the navigation's API reference section."""
    section = next((s for s in nav.items if isinstance(s, Section) and s.title == REFERENCE_SECTION), None)
    if section is None:
        raise ValueError(f"mkdocs.yml: the nav needs a section titled {REFERENCE_SECTION!r} for the generated pages")
    last = section.children[-1]
    while isinstance(last, Section):
        last = last.children[-1]
    at = nav.pages.index(last) + 1 if last in nav.pages else len(nav.pages)
    for name, uri in _generated:
        page = Page(TITLES.get(name, name), files.get_file_from_path(uri), config)
        page.parent = section
        section.children.append(page)
        nav.pages.insert(at, page)
        at += 1
    for i, page in enumerate(nav.pages):
        page.previous_page = nav.pages[i - 1] if i else None
        page.next_page = nav.pages[i + 1] if i + 1 < len(nav.pages) else None
    return nav


def _docstring(path: Path) -> str:
    try:
        return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except SyntaxError as e:
        raise ValueError(f"{path}: not valid Python ({e})") from e


def _examples_markdown() -> str:
    parts = []
    for path in sorted(EXAMPLES.glob("*.py")):
        if path.name.startswith("_"):
            continue
        rel = path.relative_to(ROOT).as_posix()
        doc = _docstring(path)
        title, _, body = _example_text(doc).partition("\n")
        parts += [
            f"## {html.escape(title.strip().rstrip('.')) or path.stem}",
            "",
            f"`{rel}` — run it from the repository's root: `python {rel}`",
            "",
            body.strip(),
            "",
            f'??? example "{path.name}"',
            "",
            "    ```python",
            *("    " + line for line in path.read_text(encoding="utf-8").splitlines()),
            "    ```",
            "",
        ]
    tomls = sorted(p for p in EXAMPLES.glob("*/*.toml"))
    if tomls:
        parts += ["## Configuration files", ""]
        for path in tomls:
            rel = path.relative_to(ROOT).as_posix()
            parts += [
                f'??? note "{rel}"',
                "",
                "    ```toml",
                *("    " + line for line in path.read_text(encoding="utf-8").splitlines()),
                "    ```",
                "",
            ]
    return "\n".join(parts)


# A highlighted code block whose first line starts a mermaid diagram (Pygments has no mermaid lexer).
MERMAID = re.compile(
    r'<div class="(?:language-mermaid )?highlight"><pre><span></span><code>(?:<a [^>]*></a>)?'
    r"(?:flowchart|graph|sequenceDiagram|classDiagram|stateDiagram)\b.*?</pre></div>",
    flags=re.DOTALL,
)


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace the markers by the examples and the reference pages' table."""
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, _examples_markdown())
    if PAGES_MARKER in markdown:
        here = Path(page.file.src_uri).parent
        rows = ["| page | package |", "| --- | --- |"]
        for title, uri, summary in reference_pages():
            link = Path(uri).relative_to(here).as_posix() if here != Path(".") else uri
            cell = summary.replace("|", "\\|")
            rows.append(f"| [{title}]({link}) | {cell} |")
        markdown = markdown.replace(PAGES_MARKER, "\n".join(rows))
    return markdown


def on_page_content(html_text: str, page, config, files) -> str:
    """Fold mermaid sources away.

    Drawing a mermaid diagram needs mermaid.js from a CDN, and the site stays offline: the
    source (ARCHITECTURE.md has one, which GitHub draws) is folded under the text diagram
    drawn beside it.
    """
    return MERMAID.sub(
        lambda m: (
            '<details class="note"><summary>The same diagram as mermaid source '
            "(GitHub draws it)</summary>" + m[0] + "</details>"
        ),
        html_text,
    )
