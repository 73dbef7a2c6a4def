"""Every module `bot/` imports, on any path, is a declared dependency of the base install.

A module imported only on some path (a progress bar on a terminal, a web page) fails only
there, on a newcomer's machine that has nothing but the base install; so the check reads the
source of every module, not what a test run happened to import.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
# Imported only behind a guard that names the extra to install.
OPTIONAL = {"sentence-transformers": "st", "torch": "st", "psycopg": "postgres"}


def _imported_modules() -> dict[str, set[str]]:
    """Top-level module names imported anywhere under bot/, with the files importing them."""
    found: dict[str, set[str]] = {}
    for path in BOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(BOT)))
    return found


def _declared() -> dict[str, str | None]:
    """Distribution name (normalised) -> the extra that brings it, None for the base install."""
    declared: dict[str, str | None] = {}
    for req in metadata.requires("rutinbot") or []:
        name = re.match(r"[A-Za-z0-9_.\-]+", req).group(0)
        extra = re.search(r'extra == "([^"]+)"', req)
        declared[_norm(name)] = extra.group(1) if extra else None
    return declared


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_third_party_import_is_declared_in_the_base_install():
    providers = metadata.packages_distributions()
    declared = _declared()
    problems = []
    for module, files in sorted(_imported_modules().items()):
        if module in sys.stdlib_module_names or module in ("bot", "__future__"):
            continue
        dists = providers.get(module)
        assert dists, f"{module} (imported in {sorted(files)}) is not installed at all"
        for dist in {_norm(d) for d in dists}:
            extra = OPTIONAL.get(dist)
            if declared.get(dist, "missing") != extra:
                where = "the base install" if extra is None else f"the [{extra}] extra"
                problems.append(f"{dist} (module {module}, in {sorted(files)}) not in {where}")
    assert not problems, "\n".join(problems)


def test_the_check_sees_an_import_made_inside_a_function():
    """The tqdm import that broke a newcomer's first run sat inside a function."""
    assert "tqdm" in _imported_modules()
