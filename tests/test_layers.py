"""The direction of imports inside the package, read from the source with ``ast``.

Every ``import`` counts, wherever it is written: at the top of a module, inside a function (a
lazy import), or under ``if TYPE_CHECKING`` — a lazy import that dodges a cycle is still a
cycle. Four rules (docs/architecture.md, "The map"):

- no import cycle between the package's modules;
- the pure core (``PURE_CORE``) imports nothing but the pure core: never an edge such as the
  store, the fetcher, the web layer, the service or the jobs;
- the web layer never imports what runs it (``service``, ``jobs``, ``cli``), and nothing but
  ``__main__`` imports ``cli``;
- the store's parts import only the pure core and one another, and the rest of the package
  reaches them through the ``syndicator.store`` facade.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "syndicator"

# Records in, records out: no network, disk, database or clock. A package named here (extract)
# stands for all its modules.
PURE_CORE = (
    "syndicator.model",
    "syndicator.errors",
    "syndicator.normalize",
    "syndicator.fingerprint",
    "syndicator.regions",
    "syndicator.direction",
    "syndicator.lazy",  # how a package's names load on first use
    "syndicator.health",
    "syndicator.cron",
    "syndicator.extract",
    "syndicator.pages",
    "syndicator.store.identity",  # the identity decider: records in, a decision out
)
# What runs the web layer: the web layer must not know it.
ABOVE_WEB = ("syndicator.service", "syndicator.jobs", "syndicator.cli")


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _owner(name: str, known: dict[str, Path]) -> str | None:
    """The module that ``name`` (a module, or a name inside one) belongs to."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


# Where a statement holds statements of its own: an import is a statement, and a statement
# is only ever found in these lists (a function's or a class's body, the branches of if, for,
# while, try, with and match), never inside an expression.
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def statements(tree: ast.AST) -> Iterator[ast.AST]:
    """Every statement in ``tree`` however deeply nested (and the except clauses and match
    cases that hold some): what ``ast.walk`` would find of them, without visiting the
    expressions, which are most of a module's nodes."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        for field in _BODIES:
            pending.extend(reversed(getattr(node, field, None) or ()))


def imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The package's modules that ``module`` imports, each with the line of the import."""
    is_package = path.name == "__init__.py"
    for node in statements(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "syndicator":
                    target = _owner(alias.name, known)
                    if target:
                        yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source.split(".")[0] != "syndicator":
                continue
            for alias in node.names:
                # ``from syndicator.web import routes`` imports the module web.routes;
                # ``from syndicator.web import make_app`` imports the package web.
                target = _owner(f"{source}.{alias.name}", known) or _owner(source, known)
                if target:
                    yield target, node.lineno


@cache
def graph() -> dict[str, dict[str, int]]:
    """module → {imported module: first line}, self-imports left out (read once)."""
    known = modules()
    edges: dict[str, dict[str, int]] = {}
    for module, path in known.items():
        targets: dict[str, int] = {}
        for target, line in imports(module, path, known):
            if target != module:
                targets.setdefault(target, line)
        edges[module] = targets
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(groups)


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _where(module: str, line: int) -> str:
    path = modules(PACKAGE)[module]
    return f"{path.relative_to(PACKAGE.parent)}:{line}"


def test_the_graph_is_read() -> None:
    """The reader finds what is known to be there, lazy imports included (a check that reads
    nothing would pass every rule)."""
    edges = graph()
    assert "syndicator.model" in edges["syndicator.normalize.article"]
    assert "syndicator.extract.dom" in edges["syndicator.extract.html"]
    assert "syndicator.web" in edges["syndicator.jobs.web"]  # inside a function
    assert "syndicator.web.routes" in edges["syndicator.web"]  # a package's own __init__
    assert set(PURE_CORE) <= set(edges)


def test_no_import_cycle() -> None:
    edges = graph()
    found = cycles(edges)
    described = [
        " ↔ ".join(group)
        + ": "
        + ", ".join(
            f"{a} → {b} ({_where(a, edges[a][b])})" for a in group for b in group if b in edges[a]
        )
        for group in found
    ]
    assert not found, "import cycles (move the shared record down, e.g. to model.py):\n" + (
        "\n".join(described)
    )


# An import in every place a statement can be: the walk must find each one ast.walk finds.
EVERY_PLACE = """
import a0
def f():
    import a1
    class C:
        import a2
        async def g():
            import a3
            async with x:
                import a4
            async for i in y:
                import a5
            else:
                import a6
if x:
    import a7
elif y:
    import a8
else:
    import a9
for i in x:
    import a10
else:
    import a11
while x:
    import a12
else:
    import a13
try:
    import a14
except E:
    import a15
else:
    import a16
finally:
    import a17
try:
    import a18
except* E:
    import a19
with x:
    from a20 import b
match x:
    case 1:
        import a21
    case _:
        if y:
            from . import a22
"""


def test_the_statement_walk_finds_every_import_ast_walk_finds() -> None:
    tree = ast.parse(EVERY_PLACE)
    kinds = (ast.Import, ast.ImportFrom)
    walked = {n.lineno for n in ast.walk(tree) if isinstance(n, kinds)}
    assert len(walked) == 23
    assert {n.lineno for n in statements(tree) if isinstance(n, kinds)} == walked


def test_the_cycle_finder_finds_cycles() -> None:
    edges = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}, "e": {"e": 1}}
    assert cycles(edges) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", [m for m in sorted(modules()) if _within(m, PURE_CORE)])
def test_the_pure_core_imports_only_the_pure_core(module: str) -> None:
    edges = graph()[module]
    outside = {t: line for t, line in edges.items() if not _within(t, PURE_CORE)}
    assert not outside, f"{module} is pure core and imports " + ", ".join(
        f"{t} ({_where(module, line)})" for t, line in sorted(outside.items())
    )


def test_the_web_layer_does_not_import_what_runs_it() -> None:
    edges = graph()
    wrong = [
        f"{m} → {t} ({_where(m, line)})"
        for m, targets in edges.items()
        if _within(m, ("syndicator.web",))
        for t, line in targets.items()
        if _within(t, ABOVE_WEB)
    ]
    wrong += [
        f"{m} → syndicator.cli ({_where(m, line)})"
        for m, targets in edges.items()
        if m not in ("syndicator.__main__", "syndicator.cli")
        for t, line in targets.items()
        if t == "syndicator.cli"
    ]
    assert not wrong, "imports against the direction of the layers:\n" + "\n".join(wrong)


def test_the_store_is_reached_through_its_facade() -> None:
    """The store's parts (``syndicator/store/``) import the pure core and one another, nothing
    that uses the store; every other module imports the package (``from syndicator.store import
    Store``), never one of its parts."""
    edges = graph()
    store = ("syndicator.store",)
    wrong = [
        f"{m} → {t} ({_where(m, line)})"
        for m, targets in edges.items()
        if _within(m, store)
        for t, line in targets.items()
        if not _within(t, store + PURE_CORE)
    ]
    wrong += [
        f"{m} → {t} ({_where(m, line)})"
        for m, targets in edges.items()
        if not _within(m, store)
        for t, line in targets.items()
        if _within(t, store) and t != "syndicator.store"
    ]
    assert "syndicator.store.articles" in edges["syndicator.store"]  # the rule reads the package
    assert not wrong, "imports across the store's edge:\n" + "\n".join(wrong)


def test_test_modules_import_only_the_harness() -> None:
    """Tests share what they share through ``tests/support/`` (and pytest's fixtures through
    conftest.py): a test module never imports another test module, conftest.py or a helper
    outside the harness."""
    tests = PACKAGE.parent / "tests"
    mine = {p.stem for p in tests.glob("*.py")}  # test modules, conftest, the local servers
    wrong = []
    for path in sorted(tests.glob("test_*.py")) + sorted((tests / "support").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in statements(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in mine:
                    wrong.append(f"{path.relative_to(tests)}:{node.lineno} imports {name}")
    assert not wrong, "import from tests/support/ instead:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "package", ["syndicator.fetch", "syndicator.ingest", "syndicator.normalize"]
)
def test_a_package_whose_names_load_on_first_use_has_every_name_it_exports(package: str) -> None:
    """``syndicator.lazy``: each name of the package's ``__all__`` is found in the module its
    table names (a name left out of the table would fail only when first used)."""
    import importlib

    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
        assert name in dir(module), name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        module.nothing  # noqa: B018
