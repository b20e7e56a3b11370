"""What the service imports is what it declares: every third-party module the `app` package
imports (at the top of a module or inside a function) comes from a runtime dependency in
pyproject.toml or from what those need in turn. A module the tests' extra happens to install
would otherwise pass every test and fail `pip install . && evidencedb serve`."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def imported_top_levels() -> dict[str, set[str]]:
    """Each third-party top-level module the app imports, with the files that import it."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "app" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def runtime_closure() -> set[str]:
    """The declared runtime dependencies and, transitively, what they require (with the
    extras they are declared with)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = requirement.extras or {""}
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        seen.add(name)
        for text in metadata.requires(requirement.name) or []:
            needed = Requirement(text)
            if needed.marker is None or any(
                    needed.marker.evaluate({"extra": extra}) for extra in extras):
                todo.append(needed)
    return {s for s in seen if "[" not in s}


def test_every_module_the_app_imports_comes_from_a_runtime_dependency():
    providers = metadata.packages_distributions()
    allowed = runtime_closure()
    missing = {}
    for module, files in sorted(imported_top_levels().items()):
        distributions = {canonicalize_name(d) for d in providers.get(module, [])}
        assert distributions, f"{module} (imported by {sorted(files)}) is not installed"
        if not distributions & allowed:
            missing[module] = sorted(files)
    assert missing == {}, f"imported by the app but not a runtime dependency: {missing}"
