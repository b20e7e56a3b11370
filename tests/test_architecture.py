"""The house rules that a reader of the code should be able to trust, checked on every run.

Import contract (docs/architecture.md draws it):
- routes (app/api/routes) never import app.models or sqlalchemy;
- services never import fastapi or starlette;
- queries never open or use a session (no Session import, no .execute() and the like);
- nothing imports upward: every module belongs to one layer of LAYERS and imports only from
  its own layer or the layers below it; a module in no layer is itself a violation.
Size: no module in app/ over 400 lines, no function over 60.

The checker reads the source (it imports nothing), and every violation is reported as
`path:line: what`, all of them at once. The tests at the end run it over small packages written
for the purpose, one broken rule each, to show that it catches what it claims to.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Top to bottom. A module may import from its own layer and from any layer below it.
# "app" on its own is the package's __init__ (the version string) and matches nothing else.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("app.main", "app.cli"),
    ("app.api",),
    ("app.security", "app.middleware", "app.server", "app.observability", "app.metrics"),
    ("app.services",),
    ("app.interop",),
    ("app.queries",),
    ("app.schemas", "app.models"),
    ("app", "app.db", "app.types", "app.enums", "app.errors", "app.config", "app.migrations",
     "app.search", "app.spreadsheet"),
)
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# What a query builder would call if it ran a statement or managed a transaction.
SESSION_METHODS = frozenset({"execute", "scalar", "scalars", "commit", "rollback", "flush",
                             "connection", "connect", "begin", "begin_nested", "refresh",
                             "stream", "stream_scalars"})
SESSION_NAMES = frozenset({"Session", "sessionmaker", "scoped_session", "AsyncSession",
                           "async_sessionmaker"})


@dataclass(frozen=True)
class Import:
    line: int
    module: str  # the module (or package) imported, resolved to an absolute name
    names: tuple[str, ...]  # names taken from it by `from module import ...`


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_of(module: str) -> int | None:
    """The index in LAYERS of the longest prefix matching `module`, or None."""
    best: tuple[int, int] | None = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix if prefix == "app" else _within(module, prefix)
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def module_name(path: Path, source_root: Path) -> str:
    parts = list(path.relative_to(source_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool,
             known: set[str]) -> Iterator[Import]:
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(node.lineno, alias.name, ())
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = tuple(alias.name for alias in node.names)
            # `from app.services import keys` imports the module app.services.keys.
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in known]
            for sub in submodules:
                yield Import(node.lineno, sub, ())
            if len(submodules) < len(names):
                yield Import(node.lineno, base, names)


def check_imports(source_root: Path, package: str = "app") -> list[str]:
    """Every breach of the import contract under source_root/package, as `path:line: what`."""
    files = sorted((source_root / package).rglob("*.py"))
    known = {module_name(p, source_root) for p in files}
    problems: list[str] = []
    for path in files:
        module = module_name(path, source_root)
        where = path.relative_to(source_root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        own = layer_of(module)
        if own is None:
            problems.append(f"{where}:1: {module} is in no layer (place it in LAYERS and in "
                            f"docs/architecture.md)")
        for imp in _imports(tree, module, path.name == "__init__.py", known):
            problems.extend(f"{where}:{imp.line}: {what}"
                            for what in _breaches(module, own, imp))
        if _within(module, "app.queries"):
            problems.extend(f"{where}:{line}: {what}" for line, what in _session_use(tree))
    return problems


def _breaches(module: str, own: int | None, imp: Import) -> Iterator[str]:
    target = imp.module
    if _within(module, "app.api.routes"):
        if _within(target, "app.models"):
            yield f"a route imports the ORM models ({target})"
        if _within(target, "sqlalchemy"):
            yield f"a route imports SQL ({target})"
    if _within(module, "app.services"):
        for web in ("fastapi", "starlette"):
            if _within(target, web):
                yield f"a service imports {web} ({target})"
    if _within(module, "app.queries") and _within(target, "sqlalchemy"):
        for name in SESSION_NAMES.intersection(imp.names):
            yield f"a query builder imports {name} from {target}"
    if _within(module, "app.queries") and target.split(".")[-1] in SESSION_NAMES:
        yield f"a query builder imports {target}"
    if own is not None and _within(target, "app"):
        theirs = layer_of(target)
        if theirs is not None and theirs < own:
            yield (f"{module} imports upward: {target} is in the layer of "
                   f"{', '.join(LAYERS[theirs])}, above {', '.join(LAYERS[own])}")


def _session_use(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in SESSION_METHODS):
            yield node.lineno, f"a query builder calls .{node.func.attr}() (queries never run " \
                               "statements: they return them)"
        elif isinstance(node, ast.Attribute) and node.attr in SESSION_NAMES:
            yield node.lineno, f"a query builder refers to {node.attr}"


def check_sizes(source_root: Path, package: str = "app") -> list[str]:
    """Every module over MAX_MODULE_LINES and function over MAX_FUNCTION_LINES."""
    problems: list[str] = []
    for path in sorted((source_root / package).rglob("*.py")):
        where = path.relative_to(source_root).as_posix()
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            problems.append(f"{where}:1: module has {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{where}:{node.lineno}: function {node.name} has {length} "
                                    f"lines (at most {MAX_FUNCTION_LINES})")
    return problems


def _report(problems: list[str]) -> str:
    return f"{len(problems)} violation(s):\n" + "\n".join(problems)


def test_app_keeps_the_import_contract():
    problems = check_imports(ROOT)
    assert not problems, _report(problems)


def test_app_modules_and_functions_stay_small():
    problems = check_sizes(ROOT)
    assert not problems, _report(problems)


# The checker itself, on small packages written for each rule.

CLEAN = {
    "app/__init__.py": '__version__ = "1"\n',
    "app/main.py": "from app.api import router\nfrom app.db import make_engine\n",
    "app/db.py": "from sqlalchemy.orm import Session\n",
    "app/models/__init__.py": "from app.db import Session\n",
    "app/schemas/study.py": "from app.enums import Phase\n",
    "app/enums.py": "PHASE = 1\n",
    "app/api/__init__.py": "",
    "app/api/router.py": "from app.api.routes import studies\n",
    "app/api/routes/__init__.py": "",
    "app/api/routes/studies.py": (
        "from fastapi import APIRouter\nfrom app.services import studies\n"
        "from app.schemas.study import StudyRead\nfrom app import __version__\n"),
    "app/services/__init__.py": "",
    "app/services/studies.py": (
        "from sqlalchemy.orm import Session\nfrom app.queries.studies import study_select\n"
        "from app.models import Study\n"
        "def read(session: Session):\n    return session.execute(study_select()).all()\n"),
    "app/queries/__init__.py": "",
    "app/queries/studies.py": (
        "from sqlalchemy import select\nfrom . import helpers\nfrom .helpers import order\n"
        "def study_select():\n    return order(select(1).where(True))\n"),
    "app/queries/helpers.py": "def order(stmt):\n    return stmt.order_by(1)\n",
}


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_checker_passes_a_package_that_keeps_the_rules(tmp_path):
    root = write_package(tmp_path, CLEAN)
    assert check_imports(root) == []
    assert check_sizes(root) == []


@pytest.mark.parametrize(("path", "source", "expected"), [
    ("app/api/routes/studies.py", "from app.models import Study\n",
     "app/api/routes/studies.py:1: a route imports the ORM models (app.models)"),
    ("app/api/routes/studies.py", "import os\nfrom sqlalchemy import select\n",
     "app/api/routes/studies.py:2: a route imports SQL (sqlalchemy)"),
    ("app/api/routes/studies.py", "from ...models import Study\n",
     "app/api/routes/studies.py:1: a route imports the ORM models (app.models)"),
    ("app/services/studies.py", "from fastapi import HTTPException\n",
     "app/services/studies.py:1: a service imports fastapi (fastapi)"),
    ("app/services/studies.py", "import starlette.responses\n",
     "app/services/studies.py:1: a service imports starlette (starlette.responses)"),
    ("app/queries/studies.py", "from sqlalchemy.orm import Session, selectinload\n",
     "app/queries/studies.py:1: a query builder imports Session from sqlalchemy.orm"),
    ("app/queries/studies.py", "def rows(session, stmt):\n    return session.execute(stmt)\n",
     "app/queries/studies.py:2: a query builder calls .execute() (queries never run "
     "statements: they return them)"),
    ("app/queries/studies.py", "import sqlalchemy.orm\nS = sqlalchemy.orm.Session\n",
     "app/queries/studies.py:2: a query builder refers to Session"),
    ("app/services/studies.py", "from app.api.deps import SessionDep\n",
     "app/services/studies.py:1: app.services.studies imports upward: app.api.deps is in the "
     "layer of app.api, above app.services"),
    ("app/models/__init__.py", "if False:\n    from app.queries.studies import study_select\n",
     "app/models/__init__.py:2: app.models imports upward: app.queries.studies is in the layer "
     "of app.queries, above app.schemas, app.models"),
    ("app/db.py", "from app import main\n",
     "app/db.py:1: app.db imports upward: app.main is in the layer of app.main, app.cli, above "
     "app, app.db, app.types, app.enums, app.errors, app.config, app.migrations, app.search, "
     "app.spreadsheet"),
    ("app/helpers.py", "X = 1\n",
     "app/helpers.py:1: app.helpers is in no layer (place it in LAYERS and in "
     "docs/architecture.md)"),
])
def test_the_checker_reports_each_broken_import_rule_where_it_is(tmp_path, path, source,
                                                                  expected):
    root = write_package(tmp_path, {**CLEAN, path: source})
    assert check_imports(root) == [expected]


def test_the_checker_reports_every_violation_not_just_the_first(tmp_path):
    root = write_package(tmp_path, {
        **CLEAN,
        "app/api/routes/studies.py": "from app.models import Study\nfrom sqlalchemy import x\n",
        "app/services/studies.py": "from fastapi import Depends\n",
    })
    assert [p.split(":", 2)[:2] for p in check_imports(root)] == [
        ["app/api/routes/studies.py", "1"], ["app/api/routes/studies.py", "2"],
        ["app/services/studies.py", "1"],
    ]


def test_the_checker_reports_long_modules_and_functions(tmp_path):
    long_function = "def big():\n" + "    x = 1\n" * MAX_FUNCTION_LINES
    fits = "async def fits():\n" + "    x = 1\n" * (MAX_FUNCTION_LINES - 1)
    root = write_package(tmp_path, {
        **CLEAN,
        "app/services/studies.py": long_function + fits,
        "app/services/huge.py": "x = 1\n" * (MAX_MODULE_LINES + 1),
        "app/services/full.py": "x = 1\n" * MAX_MODULE_LINES,
    })
    assert check_sizes(root) == [
        f"app/services/huge.py:1: module has {MAX_MODULE_LINES + 1} lines "
        f"(at most {MAX_MODULE_LINES})",
        f"app/services/studies.py:1: function big has {MAX_FUNCTION_LINES + 1} lines "
        f"(at most {MAX_FUNCTION_LINES})",
    ]
