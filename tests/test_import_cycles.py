"""No module of the package imports, directly or through others, a module that imports it back
(lazy imports inside functions count too): the layers stay a readable flow."""

import ast
import graphlib
from pathlib import Path

import designspace

PACKAGE = Path(designspace.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that `path` imports anywhere in its code. `from . import plot` is an
    import of the submodule plot, not of the package."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = (
                ".".join(package[: len(package) - node.level + 1] + [node.module or ""]).strip(".")
                if node.level
                else node.module
            )
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules
            found |= submodules or ({base} & modules)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names} & modules
    return found - {name}


def test_the_package_has_no_import_cycles():
    paths = list(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    graph = {module_name(p): imported_modules(p, modules) for p in paths}
    # a package's __init__ gathers its modules' public names; none of them imports the package back
    for package in [m for m, p in zip(graph, paths) if p.name == "__init__.py"]:
        assert not [m for m, targets in graph.items() if package in targets and m.startswith(package + ".")]
        graph[package] = set()
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        raise AssertionError(f"import cycle: {' -> '.join(e.args[1])}") from None
