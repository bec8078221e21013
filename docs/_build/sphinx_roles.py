"""A griffe extension: Sphinx cross-reference roles in flatbook's docstrings become checked links.

flatbook's docstrings cross-reference with Sphinx roles (``:func:`flatbook.config.build_config```,
``:class:`~flatbook.data.events.EventTable```, ``:mod:`.volatility```). mkdocstrings renders
Markdown, where these would show as raw text, so this extension rewrites each role, once the
whole package is loaded, into an mkdocs-autorefs element:

- the target is resolved the way Sphinx does: a dotted path as written, relative to the
  object's module and its parents (``.volatility``), or a bare name looked up in the enclosing
  class, the module and the package;
- ``~`` keeps only the last component as the text; ``:func:`` and ``:meth:`` add ``()``;
- a resolved target becomes an *optional* autoref: a link when the site renders the object,
  plain code when it does not (private helpers, the CLI's internals);
- a target under ``flatbook`` that does not exist is a **broken reference**: logged as a
  warning, which fails ``mkdocs build --strict`` (and so ``make docs`` and tests/test_docs.py);
- targets outside flatbook (``numpy.ndarray``) are shown as code, unchecked.

Loaded by path from mkdocs.yml (``extensions: [docs/_build/sphinx_roles.py]``); griffe finds the
:class:`SphinxRoles` class in this file.
"""

from __future__ import annotations

import ast
import builtins
import html
import re
from pathlib import Path
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(func|meth|class|mod|data|attr|exc|obj|const):`(?P<body>[^`]+)`")
CALLABLE_ROLES = {"func", "meth"}
ROOT = "flatbook"
REPO = Path(__file__).resolve().parents[2]

logger = griffe.get_logger("docs_sphinx_roles")  # mkdocstrings routes it into mkdocs: a warning fails --strict

# Broken references known today, in files other work owns right now: (object path, role body) ->
# why. Each is logged at INFO, not as a warning, so the strict build stays green; remove an entry
# when its docstring is fixed (an entry that no longer matches is itself reported as a warning).
KNOWN: dict[tuple[str, str], str] = {}


def _lookup(pkg: griffe.Module, path: str) -> griffe.Object | griffe.Alias | None:
    """The object at dotted ``path`` under the package, or None."""
    parts = path.split(".")
    if parts[0] != pkg.name:
        return None
    obj: Any = pkg
    for part in parts[1:]:
        try:
            obj = obj.members[part]
        except Exception:  # noqa: BLE001 - an alias to an object outside the package, unresolvable
            return None
    return obj


def _eval_names(node: ast.AST) -> dict[str, str] | None:
    """A ``_LAZY`` mapping's value, for the literal forms the project writes (else None).

    ``{"name": "module", **{n: "module" for n in ("a", "b")}}``: string keys and values, and
    dict comprehensions over a tuple or list of strings, evaluated without running anything.
    """
    if not isinstance(node, ast.Dict):
        return None
    out: dict[str, str] = {}
    for key, value in zip(node.keys, node.values):
        if key is None:  # **{n: "module" for n in (...)}
            if not (
                isinstance(value, ast.DictComp)
                and len(value.generators) == 1
                and isinstance(value.value, ast.Constant)
                and isinstance(value.generators[0].iter, (ast.Tuple, ast.List))
            ):
                return None
            for elt in value.generators[0].iter.elts:
                if isinstance(elt, ast.Constant):
                    out[str(elt.value)] = str(value.value.value)
        elif isinstance(key, ast.Constant) and isinstance(value, ast.Constant):
            out[str(key.value)] = str(value.value)
        else:
            return None
    return out


_lazy_cache: dict[str, dict[str, str]] = {}


def lazy_table(path: Path, package: str) -> dict[str, str]:
    """name → dotted module path of a module's PEP 562 lazy names, read from its source.

    A module that defines ``__getattr__`` (a function, or ``lazy_getattr(...)``) and a
    module-level dict literal of names to modules (``_LAZY``, ``_WHERE``: the project's two
    spellings) loads those names on first use. Relative module names are taken in ``package``.
    Nothing is run; a module without ``__getattr__`` has no lazy names.
    """
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return {}
    has_getattr = any(
        (isinstance(node, ast.FunctionDef) and node.name == "__getattr__")
        or (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__getattr__" for t in node.targets)
        )
        for node in tree.body
    )
    if not has_getattr:
        return {}
    found: dict[str, str] = {}
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        table = _eval_names(value) if value is not None else None
        for name, mod in (table or {}).items():
            found[name] = mod if mod == ROOT or mod.startswith(ROOT + ".") else f"{package}.{mod}"
    return found


def _lazy_map(module: Any) -> dict[str, str]:
    """name → dotted module path for a module's lazy names (:func:`lazy_table`), cached per build."""
    if module.path not in _lazy_cache:
        ok = not isinstance(module.filepath, list) and module.filepath is not None
        package = module.path if module.is_init_module else module.path.rpartition(".")[0]
        _lazy_cache[module.path] = lazy_table(Path(module.filepath), package) if ok else {}
    return _lazy_cache[module.path]


def _lazy_export(pkg: griffe.Module, path: str) -> str | None:
    """Where a name that a module loads lazily (PEP 562 ``__getattr__`` + ``_LAZY``) is defined.

    ``flatbook.simulate`` when the root package loads ``simulate`` from ``flatbook.api.simulation``
    on first use: griffe reads the source without running it and does not see the name, so it is
    looked up in the module's lazy table (name → defining module), followed as far as it goes.
    """
    for _ in range(4):  # a lazy name may be re-exported lazily again (flatbook → flatbook.api → …)
        parent_path, _, name = path.rpartition(".")
        parent = _lookup(pkg, parent_path) if parent_path else None
        if parent is None or parent.is_alias or parent.kind is not griffe.Kind.MODULE:
            return None
        where = _lazy_map(parent).get(name)
        if where is None:
            return None
        path = f"{where}.{name}"
        if _lookup(pkg, path) is not None:
            return path
    return None


def _scopes(obj: griffe.Object | griffe.Alias) -> list[str]:
    """Where a bare or relative name is looked up: the object, its parents, up to the package."""
    scopes = []
    cur: Any = obj
    while cur is not None:
        if cur.kind in (griffe.Kind.MODULE, griffe.Kind.CLASS):
            scopes.append(cur.path)
        cur = cur.parent
    return scopes


def resolve(pkg: griffe.Module, obj: griffe.Object, target: str, role: str = "obj") -> tuple[str | None, bool]:
    """(resolved path or None, whether the target is flatbook's own) for a role's target.

    A ``:func:`` naming a subpackage that the parent package also exports lazily as a function
    (``flatbook.backtest``: the package and the API call) means the function.
    """
    if target.startswith("."):
        name = target.lstrip(".")
        for scope in _scopes(obj):
            if _lookup(pkg, f"{scope}.{name}") is not None:
                return f"{scope}.{name}", True
        return None, True
    if target == ROOT or target.startswith(ROOT + "."):
        found = _lookup(pkg, target)
        if found is not None and role in CALLABLE_ROLES and found.kind is griffe.Kind.MODULE:
            return _lazy_export(pkg, target) or target, True
        if found is not None:
            return target, True
        return _lazy_export(pkg, target), True
    for scope in _scopes(obj):
        if _lookup(pkg, f"{scope}.{target}") is not None:
            return f"{scope}.{target}", True
        if scope.startswith(ROOT) and (lazy := _lazy_export(pkg, f"{scope}.{target}")) is not None:
            return lazy, True
    if "." not in target:
        # A bare name in a module's docstring may name a method of one of its classes (a module
        # that documents its class's protocol) or, in a package, a name of one of its submodules
        # (a package that re-exports lazily, PEP 562).
        module = obj if obj.kind is griffe.Kind.MODULE else obj.module
        for member in module.members.values():
            if member.is_alias or member.kind not in (griffe.Kind.CLASS, griffe.Kind.MODULE):
                continue
            if _lookup(pkg, f"{member.path}.{target}") is not None:
                return f"{member.path}.{target}", True
        # Any other bare name is meant to be flatbook's, unless it is a builtin.
        return None, target not in dir(builtins)
    # A dotted name outside flatbook: standard library or third party (``numpy.ndarray``).
    return None, False


LIST_ITEM = re.compile(r"^ {0,3}(?:[-*]|\d+[.)]) +\S")
CODE_SPAN = re.compile(r"(``.+?``|`[^`]+`)")
NOT_A_LINK = re.compile(r"\]\((?![a-z]+://|#)")
NOT_A_REF = re.compile(r"\] +\[")  # ``[paths] [figure.png]``: usage notation, not a reference link


RST_BORDER = re.compile(r"^ *=+( +=+)+ *$")


def _rst_tables(lines: list[str]) -> list[str]:
    """reStructuredText simple tables (``====  ====`` borders) as Markdown tables.

    The first border gives the columns; a row whose first column is blank continues the
    row above; with three borders the rows between the first two are the header.
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not RST_BORDER.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        border = lines[i]
        cols = [(m.start(), m.end()) for m in re.finditer(r"=+", border)]
        j, borders, rows = i + 1, [i], []
        while j < len(lines) and len(borders) < 3:
            if RST_BORDER.match(lines[j]):
                borders.append(j)
                rows.append(None)  # a border between header and body
            elif lines[j].strip():
                line = lines[j]
                cells = [
                    line[a : (cols[k + 1][0] if k + 1 < len(cols) else len(line))].strip()
                    for k, (a, _) in enumerate(cols)
                ]
                if rows and rows[-1] is not None and not cells[0]:
                    rows[-1] = [f"{x} {c}".strip() for x, c in zip(rows[-1], cells)]
                else:
                    rows.append(cells)
            else:
                break
            j += 1
            if len(borders) == 2 and (j >= len(lines) or not lines[j].strip()):
                break
        if len(borders) < 2:
            out.append(lines[i])
            i += 1
            continue
        header: list[str] | None = None
        body = [r for r in rows if r is not None]
        if len(borders) == 3 and rows and rows[0] is not None and None in rows:
            header = rows[: rows.index(None)][0]
            body = [r for r in rows[rows.index(None) + 1 :] if r is not None]
        if header is None:
            header = [""] * len(cols)
        table = ["| " + " | ".join(c.replace("|", "\\|") for c in header) + " |", "|" + "---|" * len(cols)]
        table += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in body]
        if out and out[-1].strip():
            out.append("")
        out += table + [""]
        i = j + 1 if len(borders) == 3 else j
    return out


def markdownify(text: str) -> str:
    """The few reStructuredText habits of the docstrings that Markdown reads otherwise.

    - A list straight after a paragraph line gets the blank line Markdown needs to see a list.
    - ``E[PnL](k)`` is mathematics, not a link, and ``[paths] [out.png]`` usage notation, not a
      reference: ``](`` and ``] [`` outside code are escaped.
    - A paragraph ending in ``::`` (reST's literal-block marker) ends in ``:``; the indented
      block after it is a code block in Markdown too.
    """
    out: list[str] = []
    in_list = in_fence = False
    in_code = False  # an indented code block: after a blank line, outside a list, 4+ spaces
    for line in _rst_tables(text.split("\n")):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if in_fence:
            out.append(line)
            continue
        if line.startswith("    ") and (in_code or (not in_list and (not out or not out[-1].strip()))):
            in_code = True
            out.append(line)
            continue
        in_code = in_code and not line.strip()
        if LIST_ITEM.match(line):
            if out and out[-1].strip() and not in_list:
                out.append("")
            in_list = True
        elif not line.strip():
            pass
        elif not line.startswith(" "):
            in_list = in_list and bool(out) and bool(out[-1].strip())  # a lazy continuation line
        if line.rstrip().endswith("::") and not line.lstrip().startswith(("..", ">>>")):
            line = line.rstrip()[:-1]
            if not line.strip(":").strip():
                continue
        if "](" in line or NOT_A_REF.search(line):
            line = "".join(
                part if i % 2 else NOT_A_REF.sub("] \\\\[", NOT_A_LINK.sub("]\\\\(", part))
                for i, part in enumerate(CODE_SPAN.split(line))
            )
        out.append(line)
    return "\n".join(out)


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring of the package into checked autorefs."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name != ROOT:
            return
        _lazy_cache.clear()  # (mkdocs serve rebuilds in one process)
        self._seen_known: set[tuple[str, str]] = set()
        self._walk(pkg, pkg, set())
        ours = Path(str(pkg.filepath)).resolve().is_relative_to(REPO / "src")
        for key in sorted(set(KNOWN) - self._seen_known) if ours else ():  # (not for a test's package)
            logger.warning("docs/_build/sphinx_roles.py: KNOWN entry %s no longer occurs: remove it", key)

    def _walk(self, pkg: griffe.Module, obj: Any, seen: set[str]) -> None:
        if obj.is_alias or obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            original = obj.docstring.value
            obj.docstring.value = self._rewrite(pkg, obj, markdownify(original), original)
        for member in list(obj.members.values()):
            if not member.is_alias:
                self._walk(pkg, member, seen)

    def _rewrite(self, pkg: griffe.Module, obj: griffe.Object, text: str, original: str) -> str:
        def sub(match: re.Match) -> str:
            role, body = match[1], match["body"].strip()
            short = body.startswith("~")
            target = body.lstrip("~")
            if "<" in target and target.endswith(">"):  # :func:`text <target>`
                shown, target = target[:-1].split("<", 1)
                shown = shown.strip()
            else:
                shown = target.rsplit(".", 1)[-1] if short else target.lstrip(".")
                if role in CALLABLE_ROLES:
                    shown += "()"
            code = f"<code>{html.escape(shown)}</code>"
            path, ours = resolve(pkg, obj, target, role)
            if path is None:
                if ours:
                    where = obj.relative_filepath
                    at = original.find(match[0])  # the line in the source, before markdownify
                    line = (obj.docstring.lineno or 1) + original.count("\n", 0, max(at, 0))
                    key = (obj.path, body)
                    if key in KNOWN:
                        self._seen_known.add(key)
                        logger.info(
                            "%s:%s: known broken cross-reference :%s:`%s` (%s)", where, line, role, body, KNOWN[key]
                        )
                    else:
                        logger.warning(
                            "%s:%s: broken cross-reference :%s:`%s` in the docstring of %s",
                            where,
                            line,
                            role,
                            body,
                            obj.path,
                        )
                return code
            return f'<autoref identifier="{path}" optional>{code}</autoref>'

        return ROLE.sub(sub, text)
