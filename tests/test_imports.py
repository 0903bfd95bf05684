"""The house rules on imports (ARCHITECTURE.md, "Rules of the house"), read from the source.

Every module of ``tracer/`` is parsed with :mod:`ast`; every ``import`` statement —
at the top of a module, in a class body or inside a function — becomes an edge of
the module graph. The rules:

``cycle``
    no import cycle (an edge is reported when it lies on one);
``rank``
    an import goes down the total order of :data:`RANKS` (D1 of issue 28's plan: ARCHITECTURE.md's
    ranks made one position per package) or stays at its own position, never up. Modules that
    the v3 layout moves are placed where they are going (``tracer.core.solution`` at ``write``'s
    position), so an edge that the move will turn upside down is a violation now;
``render``
    a renderer or an exporter (``tracer.render.*``, ``tracer.export.*``) knows nothing of how the
    numbers were made: it imports nothing of ``tracer.numeric`` (the NumPy passes and the
    training-run code), ``tracer.pipeline``, the engine (``tracer.core.*`` but the modules that
    move out of it — :data:`LEAVING_CORE` — and ``tracer.core.trace``'s data), ``tracer.core.derive``,
    ``tracer.core.verify`` or ``tracer.write.*`` but ``tracer.write.solution``: it maps the
    solution's data to strings;
``numeric``
    ``tracer.numeric.*`` imports neither SymPy nor anything of ``tracer.core``:
    the NumPy twins share no code with the path they check;
``spec``
    what the package ``tracer.spec`` reaches — every module of it (whether its ``__init__``
    imports it or not), their imports, theirs, and the packages they sit
    in, function-level imports counted as if they were at the top — contains no
    SymPy, no Jinja2, nothing of ``tracer.core``, and NumPy
    only through the seeded generators ``tracer.datasets`` (data sets) and
    ``tracer.initializers`` (initial weights);
``serve``
    the web application (``tracer.serve``, rank 8 of ARCHITECTURE.md) is imported by nothing
    but the CLI, and imports nothing of it;
``in-function``
    no import inside a function — never to dodge a cycle (those edges count for the
    cycle rule like any other). The one exception is start-up time, and only where
    :data:`START_UP` lists the import and a ``# start-up:`` comment above it says why.

``KNOWN`` lists the violations tolerated for now; the tests fail on any violation
not in it AND on any entry of it that no longer occurs, so the list can only shrink.
"""

from __future__ import annotations

import ast
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tracer"

#: (module, imported module, rule) tolerated while the core is redesigned (issue 28); only ever
#: remove entries. The rank entries are the upward edges measured when the rule came (plan §1.2),
#: each with the step of the plan that removes it.
KNOWN: set[tuple[str, str, str]] = {
    ("tracer.core.functions", "tracer.calculus.derivatives", "rank"),  # S8: derivations made by write/
    ("tracer.core.verify", "tracer.core.solution", "rank"),  # S7: Verification, Mismatch to tracer/verify.py
    # the optimizers' update rules, printed (OPTIMIZERS' equations and names): D2 keeps
    # tracer.core.optimizers in the engine, and D1 forbids renderers the engine; the plan's
    # §1.2 table misses these three — the step that gives the printed rule as data removes them
    ("tracer.render.calculus", "tracer.core.optimizers", "render"),
    ("tracer.render.document", "tracer.core.optimizers", "render"),
    ("tracer.render.matrix", "tracer.core.optimizers", "render"),
}

#: D1 of issue 28's plan: every module's position in one total order (a module's own name, else
#: its longest listed prefix; ``tracer`` itself is the facade, not a prefix). An import may go to
#: the same or a lower position. The table already holds the modules the v3 layout will create
#: (tracer.keys, tracer.layers, tracer.write, …), and places today's modules that will move at
#: their destination (plan §4), so that moving them changes no rank.
ORDER = ("base", "spec", "numeric", "core", "calculus", "layers", "notation", "verify", "write", "pipeline",
         "teach", "render", "export", "facade", "serve", "cli", "main")
POSITION = {name: k + 1 for k, name in enumerate(ORDER)}
RANKS: dict[str, int] = {
    # 1: leaves, the standard library and NumPy only
    **dict.fromkeys(("tracer.files", "tracer.numbers", "tracer.keys", "tracer.kinds", "tracer.datasets",
                     "tracer.initializers", "tracer.bounds"), POSITION["base"]),
    "tracer.spec": POSITION["spec"],
    "tracer.numeric": POSITION["numeric"],
    "tracer.core": POSITION["core"],  # the engine: graph, functions, gates, sweep, optimizers, trace
    "tracer.calculus": POSITION["calculus"],  # below layers: the graph kind parses with calculus.expression (D2)
    "tracer.layers": POSITION["layers"],
    "tracer.notation": POSITION["notation"],
    "tracer.verify": POSITION["verify"],
    "tracer.core.verify": POSITION["verify"],  # → tracer/verify.py (S7)
    "tracer.write": POSITION["write"],
    "tracer.core.derive": POSITION["write"],  # → write/ (S8)
    "tracer.core.solution": POSITION["write"],  # → write/solution.py (S8)
    "tracer.pipeline": POSITION["pipeline"],
    "tracer.teach": POSITION["teach"],
    "tracer.render": POSITION["render"],
    "tracer.export": POSITION["export"],
    "tracer": POSITION["facade"],
    "tracer.answers": POSITION["facade"],
    "tracer.serve": POSITION["serve"],
    "tracer.cli": POSITION["cli"],
    "tracer.__main__": POSITION["main"],
}

#: today's modules of tracer.core that the v3 layout moves out of the engine; a renderer may read
#: them (the solution's data), not the rest of tracer.core
LEAVING_CORE = ("tracer.core.solution",)

#: (module, imported module): imports deferred to save start-up time, each with a "# start-up:"
#: comment in the source; `tracer solve -f json` loads no renderer (benchmarks/solve.py measures it)
START_UP: set[tuple[str, str]] = {
    ("tracer.cli.problems", "tracer.render.document"),
    ("tracer.cli.problems", "tracer.render.extensions"),
    ("tracer.cli.problems", "tracer.export.answer"),
    ("tracer.cli.problems", "tracer.render.graph"),
    ("tracer.core.functions", "tracer.calculus.derivatives"),
    # `import tracer` loads no renderer: tracer.ask/diff/descend and a notebook's display of a
    # solution load tracer.answers (and with it the renderers) when first used
    ("tracer", "tracer.answers"),
}

#: the modules through which tracer.spec may reach NumPy: seeded draws of a problem file's numbers
SEEDED = {"tracer.datasets", "tracer.initializers"}

RULES = ("cycle", "rank", "render", "numeric", "spec", "serve", "in-function")


# ---------------------------------------------------------------------------
# Reading the imports
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    module: str  # the importing module: tracer.cli.problems
    target: str  # the imported module: tracer.core.derive, sympy.printing.latex
    line: int
    in_function: bool


@dataclass(frozen=True)
class Violation:
    module: str
    target: str
    rule: str
    why: str  # where, and what was expected

    @property
    def entry(self) -> tuple[str, str, str]:
        return (self.module, self.target, self.rule)


def module_files(package: Path) -> dict[str, Path]:
    """Every module under ``package`` by its dotted name (``tracer/cli/__init__.py`` → ``tracer.cli``)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports_of(module: str, source: str, is_package: bool, modules: set[str]) -> list[Import]:
    """The imports of one module's source. ``from a import b`` imports ``a.b`` when that is one
    of ``modules``, else ``a``; relative imports are resolved against ``module``."""
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(Import(module, alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    package = package[: len(package) - (child.level - 1)]
                    base = ".".join(package + ([child.module] if child.module else []))
                for alias in child.names:
                    submodule = f"{base}.{alias.name}"
                    found.append(Import(module, submodule if submodule in modules else base, child.lineno, in_function))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    tree = ast.parse(source)
    visit(tree, False)
    found.extend(_lazy_commands(module, tree, modules))
    return found


def _lazy_commands(module: str, tree: ast.Module, modules: set[str]) -> list[Import]:
    """``COMMANDS = {"solve": "tracer.cli.problems:solve", …}`` in the CLI: each value is an
    import (made when the command runs), counted as one at the top of the module."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "COMMANDS" for t in node.targets):
            for value in ast.literal_eval(node.value).values():
                out.append(Import(module, value.partition(":")[0], node.lineno, False))
    return out


def read_imports(package: Path = PACKAGE) -> list[Import]:
    files = module_files(package)
    names = set(files)
    return [imp for name, path in files.items() for imp in imports_of(name, path.read_text(encoding="utf-8"), path.name == "__init__.py", names)]


def _says_why(imp: Import, files: dict[str, Path]) -> bool:
    """A deferred import carries a ``# start-up:`` comment in the lines just above it."""
    lines = files[imp.module].read_text(encoding="utf-8").splitlines()
    above = lines[max(0, imp.line - 5) : imp.line - 1]
    return any(line.strip().startswith("# start-up:") for line in above)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _place(imp: Import, files: dict[str, Path]) -> str:
    path = files.get(imp.module)
    where = path.relative_to(ROOT) if path is not None and path.is_relative_to(ROOT) else imp.module
    return f"{where}:{imp.line}"


# ---------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------


def cycle_edges(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """The edges that lie on a cycle: those inside one strongly connected component (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    component: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0

    def connect(start: str) -> None:  # iterative: no recursion limit on a deep chain of imports
        nonlocal counter
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component[member] = index[node]
                        if member == node:
                            break

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return {(a, b) for a in graph for b in graph[a] if b in component and component[a] == component[b]}


def a_cycle_through(edge: tuple[str, str], graph: dict[str, set[str]]) -> list[str]:
    """``a → b → … → a``: the shortest way back from b to a (breadth first)."""
    a, b = edge
    previous: dict[str, str | None] = {b: None}
    queue = deque([b])
    while queue:
        node = queue.popleft()
        if node == a:
            break
        for successor in sorted(graph.get(node, ())):
            if successor not in previous:
                previous[successor] = node
                queue.append(successor)
    path: list[str] = []
    node: str | None = a
    while node is not None:
        path.append(node)
        node = previous[node]
    return [a] + path[::-1]


def rank_of(module: str) -> int | None:
    """A module's position in :data:`RANKS`: its own entry, else its longest listed prefix (never
    the bare ``tracer``, which is the facade's own entry); None for a module the table misses."""
    if module in RANKS:
        return RANKS[module]
    parts = module.split(".")
    for k in range(len(parts) - 1, 1, -1):
        prefix = ".".join(parts[:k])
        if prefix in RANKS:
            return RANKS[prefix]
    return None


def _renderer_forbids(target: str) -> str | None:
    """What a renderer or an exporter may not import (rule ``render``), and why."""
    if _within(target, "tracer.numeric"):
        return "the NumPy passes"
    if _within(target, "tracer.pipeline"):
        return "the pipeline"
    if _within(target, "tracer.write") and not _within(target, "tracer.write.solution"):
        return "the writer (only its Solution)"
    if target in ("tracer.core.derive", "tracer.core.verify"):
        return "the writer and the verification"
    if _within(target, "tracer.core") and target != "tracer.core" and not any(_within(target, m) for m in LEAVING_CORE + ("tracer.core.trace",)):
        return "the engine (only the trace's data)"
    return None


def _spec_forbids(module: str, target: str) -> str | None:
    top = target.split(".")[0]
    if top in ("sympy", "jinja2"):
        return f"no {top}"
    if top == "numpy" and module not in SEEDED:
        return "NumPy only through tracer.datasets and tracer.initializers"
    if _within(target, "tracer.core"):
        return "nothing of tracer.core"
    return None


def violations(imports: list[Import], files: dict[str, Path]) -> list[Violation]:
    found: list[Violation] = []
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in imports:
        if imp.target in files:
            graph[imp.module].add(imp.target)
    for module in files:
        graph.setdefault(module, set())

    for a, b in sorted(cycle_edges(graph)):
        found.append(Violation(a, b, "cycle", "import cycle: " + " → ".join(a_cycle_through((a, b), graph))))

    order = {position: name for name, position in POSITION.items()}
    for imp in imports:
        if imp.target in files:
            below, above = rank_of(imp.module), rank_of(imp.target)
            if below is not None and above is not None and above > below:
                found.append(Violation(imp.module, imp.target, "rank", f"{_place(imp, files)}: {imp.module} ({order[below]}, rank {below}) imports {imp.target} ({order[above]}, rank {above}): imports go down the ranks"))
        if _within(imp.module, "tracer.render") or _within(imp.module, "tracer.export"):
            what = _renderer_forbids(imp.target)
            if what is not None:
                found.append(Violation(imp.module, imp.target, "render", f"{_place(imp, files)}: a renderer imports {imp.target}, {what} (it may only map the solution's data to strings)"))
        if _within(imp.module, "tracer.numeric") and (imp.target.split(".")[0] == "sympy" or _within(imp.target, "tracer.core")):
            found.append(Violation(imp.module, imp.target, "numeric", f"{_place(imp, files)}: the NumPy passes import {imp.target} (no SymPy, nothing of tracer.core)"))
        if _within(imp.target, "tracer.serve") and not (_within(imp.module, "tracer.serve") or _within(imp.module, "tracer.cli")):
            found.append(Violation(imp.module, imp.target, "serve", f"{_place(imp, files)}: imports the web application {imp.target} (only tracer.cli may)"))
        if _within(imp.module, "tracer.serve") and _within(imp.target, "tracer.cli"):
            found.append(Violation(imp.module, imp.target, "serve", f"{_place(imp, files)}: the web application imports the CLI ({imp.target})"))
        if imp.in_function and not ((imp.module, imp.target) in START_UP and _says_why(imp, files)):
            found.append(Violation(imp.module, imp.target, "in-function", f"{_place(imp, files)}: imports {imp.target} inside a function (imports go at the top of the module)"))

    found.extend(_spec_violations(imports, files))
    return found


def _spec_violations(imports: list[Import], files: dict[str, Path]) -> list[Violation]:
    """Walk what the modules of ``tracer.spec`` reach, breadth first; stop at (and report) each forbidden import."""
    by_module: dict[str, list[Import]] = defaultdict(list)
    for imp in imports:
        by_module[imp.module].append(imp)

    def with_packages(module: str) -> list[str]:  # importing a.b.c runs a and a.b first
        parts = module.split(".")
        # but not ``tracer`` itself: the package's __init__ is the public API (tracer.load,
        # tracer.solve: SPEC.md §11) and imports the engine by design, above every stage
        return [".".join(parts[:k]) for k in range(2, len(parts) + 1)]

    how: dict[str, str] = {}
    queue: deque[str] = deque()
    for module in sorted(m for m in files if _within(m, "tracer.spec")):  # the package, every module of it
        how[module] = module
        queue.append(module)
    found: list[Violation] = []
    while queue:
        module = queue.popleft()
        for imp in by_module.get(module, ()):
            reason = _spec_forbids(module, imp.target)
            if reason is not None:
                found.append(Violation(module, imp.target, "spec", f"{_place(imp, files)}: {how[module]} → {imp.target}: tracer.spec may reach {reason}"))
                continue
            if imp.target in files:
                for reached in with_packages(imp.target):
                    if reached in files and reached not in how:
                        how[reached] = f"{how[module]} → {reached}"
                        queue.append(reached)
    return found


# ---------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------

FILES = module_files(PACKAGE)
FOUND = violations(read_imports(), FILES)


def _unexpected(rule: str) -> list[str]:
    return sorted({v.why for v in FOUND if v.rule == rule and v.entry not in KNOWN})


@pytest.mark.parametrize("rule", RULES)
def test_no_new_violation(rule):
    unexpected = _unexpected(rule)
    assert not unexpected, f"{len(unexpected)} new violation(s) of the rule {rule!r}:\n" + "\n".join(unexpected)


def test_every_known_violation_still_occurs():
    """Fixed one? Remove its entry from KNOWN: the list only shrinks."""
    stale = sorted(KNOWN - {v.entry for v in FOUND})
    assert not stale, "these KNOWN entries no longer occur; remove them from tests/test_imports.py:\n" + "\n".join(map(repr, stale))


def test_every_deferred_import_is_one_and_says_why():
    deferred = {(imp.module, imp.target) for imp in read_imports() if imp.in_function}
    assert START_UP <= deferred, f"START_UP lists imports that are not deferred: {sorted(START_UP - deferred)}"
    for imp in read_imports():
        if (imp.module, imp.target) in START_UP:
            assert _says_why(imp, FILES), f"{_place(imp, FILES)}: a deferred import needs a '# start-up:' comment saying why"


def test_known_entries_name_a_rule_and_spare_the_cli():
    assert {rule for _, _, rule in KNOWN} <= set(RULES)
    assert not [entry for entry in KNOWN if _within(entry[0], "tracer.cli")], "tracer/cli/ keeps every rule: nothing of it is tolerated"


def test_the_walk_sees_the_whole_package():
    """A walk that silently found nothing would pass every rule."""
    imports = read_imports()
    assert {"tracer.spec", "tracer.cli", "tracer.cli.common", "tracer.core.derive", "tracer.render.document"} <= set(FILES)
    assert {f"tracer.spec.{m}" for m in ("errors", "problem", "models", "training", "network", "graph", "mapping", "yaml_text", "schema")} <= set(FILES)
    assert {imp.module for imp in imports} >= {"tracer.cli", "tracer.spec", "tracer.core.derive"}
    assert any(imp.module == "tracer.cli" and imp.target == "tracer.cli.problems" for imp in imports)
    assert {imp.target for imp in imports if imp.module == "tracer.cli"} >= {"tracer.cli.problems", "tracer.cli.quiz", "tracer.cli.calculus"}


# ---------------------------------------------------------------------------
# The walk itself, on a made-up package
# ---------------------------------------------------------------------------


def _package(tmp_path: Path, sources: dict[str, str]) -> Path:
    for relative, source in sources.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return tmp_path / "tracer"


def test_the_walk_resolves_relative_imports_and_sees_imports_in_functions(tmp_path):
    package = _package(tmp_path, {
        "tracer/__init__.py": "",
        "tracer/spec.py": "import yaml\n",
        "tracer/render/__init__.py": "from . import printing\n",
        "tracer/render/printing.py": "from ..spec import load\nclass P:\n    import json\n    def f(self):\n        from .. import numeric\n",
        "tracer/numeric/__init__.py": "",
    })
    imports = {(i.module, i.target, i.in_function) for i in read_imports(package)}
    assert imports == {
        ("tracer.spec", "yaml", False),
        ("tracer.render", "tracer.render.printing", False),
        ("tracer.render.printing", "tracer.spec", False),
        ("tracer.render.printing", "json", False),  # a class body runs at import
        ("tracer.render.printing", "tracer.numeric", True),
    }


def test_the_rules_catch_what_they_name(tmp_path):
    package = _package(tmp_path, {
        "tracer/__init__.py": "from tracer.spec import load\n",
        "tracer/spec.py": "from tracer.keys import Key\nfrom tracer import helpers\nfrom tracer.core import graph\n",
        "tracer/helpers.py": "import numpy\nimport tracer.core.derive\n",
        "tracer/datasets.py": "import numpy\n",
        "tracer/core/__init__.py": "",
        "tracer/core/graph.py": "",
        "tracer/keys.py": "",
        "tracer/core/derive.py": "import sympy\nfrom tracer.render import document\n",
        "tracer/render/__init__.py": "",
        "tracer/render/document.py": "from tracer.core import derive\nfrom tracer.numeric import training\n",
        "tracer/numeric/__init__.py": "",
        "tracer/numeric/training.py": "import sympy.core\ndef f():\n    from tracer.core import graph\n",
    })
    files = module_files(package)
    found = {v.entry for v in violations(read_imports(package), files)}
    assert found == {
        ("tracer.core.derive", "tracer.render.document", "cycle"),
        ("tracer.render.document", "tracer.core.derive", "cycle"),
        ("tracer.core.derive", "tracer.render.document", "rank"),  # write (9) → render (12)
        ("tracer.render.document", "tracer.core.derive", "render"),
        ("tracer.render.document", "tracer.numeric.training", "render"),
        ("tracer.numeric.training", "sympy.core", "numeric"),
        ("tracer.numeric.training", "tracer.core.graph", "numeric"),
        ("tracer.numeric.training", "tracer.core.graph", "in-function"),
        ("tracer.numeric.training", "tracer.core.graph", "rank"),  # numeric (3) → core (4)
        ("tracer.helpers", "numpy", "spec"),  # spec → helpers → numpy: not through tracer.datasets
        ("tracer.helpers", "tracer.core.derive", "spec"),
        ("tracer.spec", "tracer.core.graph", "spec"),  # the keys are tracer/keys.py, not the engine's
        ("tracer.spec", "tracer.core.graph", "rank"),  # spec (2) → core (4)
    }
    cycle = next(v for v in violations(read_imports(package), files) if v.rule == "cycle")
    assert "tracer.core.derive → tracer.render.document → tracer.core.derive" in cycle.why


def test_the_spec_rule_walks_every_module_of_the_package(tmp_path):
    """A module of tracer.spec that its __init__ does not import is walked too; and an import
    cycle between two of its modules is one (the package's modules import each other one way)."""
    package = _package(tmp_path, {
        "tracer/__init__.py": "",
        "tracer/spec/__init__.py": "from tracer.spec.errors import SpecError\n",
        "tracer/spec/errors.py": "",
        "tracer/spec/network.py": "import sympy\nfrom tracer.core import graph\nfrom tracer.spec import mapping\n",
        "tracer/spec/mapping.py": "from tracer.spec import network\n",
        "tracer/core/__init__.py": "",
        "tracer/core/graph.py": "",
    })
    found = {v.entry for v in violations(read_imports(package), module_files(package)) if v.rule in ("spec", "cycle")}
    assert found == {
        ("tracer.spec.network", "sympy", "spec"),
        ("tracer.spec.network", "tracer.core.graph", "spec"),
        ("tracer.spec.network", "tracer.spec.mapping", "cycle"),
        ("tracer.spec.mapping", "tracer.spec.network", "cycle"),
    }


def test_every_module_has_a_rank():
    """A new module goes into RANKS (or under a listed package) before it can be imported anywhere."""
    missing = sorted(m for m in FILES if rank_of(m) is None)
    assert not missing, f"modules without a rank in tests/test_imports.py's RANKS: {missing}"


def test_the_ranks_are_the_plans_order():
    assert [rank_of(m) for m in ("tracer.keys", "tracer.spec", "tracer.numeric.layers", "tracer.core.graph",
                                 "tracer.calculus.expression", "tracer.layers.dense", "tracer.layers.network", "tracer.notation.themes",
                                 "tracer.verify", "tracer.write.solution", "tracer.core.solution", "tracer.pipeline", "tracer.teach.quiz",
                                 "tracer.render.document", "tracer.export.moodle", "tracer", "tracer.answers", "tracer.serve.app",
                                 "tracer.cli.problems", "tracer.__main__")] == [1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 9, 10, 11, 12, 13, 14, 14, 15, 16, 17]
    assert rank_of("tracer.unknown") is None and rank_of("tracerx.spec") is None


def test_the_rank_rule_catches_an_import_up_the_order(tmp_path):
    package = _package(tmp_path, {
        "tracer/__init__.py": "from tracer.cli import main\n",  # facade (14) → cli (16): up
        "tracer/cli/__init__.py": "import tracer\nfrom tracer.render import document\n",  # down: allowed
        "tracer/spec.py": "from tracer import datasets\n",  # spec (2) → base (1): down
        "tracer/datasets.py": "",
        "tracer/core/__init__.py": "",
        "tracer/core/graph.py": "from tracer.core import solution\nfrom tracer.core import functions\n",  # core → write: up; core → core
        "tracer/core/functions.py": "",
        "tracer/core/solution.py": "from tracer.core import graph\n",
        "tracer/core/optimizers.py": "",
        "tracer/render/__init__.py": "",
        "tracer/render/document.py": "from tracer.core import solution, optimizers\nfrom tracer.export import moodle\n",
        "tracer/export/__init__.py": "",
        "tracer/export/moodle.py": "from tracer.render import document\n",
    })
    found = {v.entry for v in violations(read_imports(package), module_files(package)) if v.rule in ("rank", "render")}
    assert found == {
        ("tracer", "tracer.cli", "rank"),
        ("tracer.core.graph", "tracer.core.solution", "rank"),  # the solution is the writer's (rank 9)
        ("tracer.render.document", "tracer.export.moodle", "rank"),
        ("tracer.render.document", "tracer.core.optimizers", "render"),  # the engine; core.solution is allowed
    }
    why = next(v.why for v in violations(read_imports(package), module_files(package)) if v.entry == ("tracer", "tracer.cli", "rank"))
    assert why.endswith("tracer (facade, rank 14) imports tracer.cli (cli, rank 16): imports go down the ranks")


def test_only_the_cli_imports_the_web_application(tmp_path):
    """ARCHITECTURE.md rank 8: tracer.serve may use teach, render, export and below; only tracer.cli uses it."""
    package = _package(tmp_path, {
        "tracer/__init__.py": "",
        "tracer/cli/__init__.py": "",
        "tracer/cli/common.py": "",
        "tracer/cli/serve.py": "from tracer.serve import app\n",
        "tracer/serve/__init__.py": "",
        "tracer/serve/app.py": "from tracer.teach import grade\nfrom tracer.cli.common import on_error\n",
        "tracer/teach/__init__.py": "",
        "tracer/teach/grade.py": "",
        "tracer/teach/feedback.py": "from tracer.serve.app import create_app\n",
    })
    found = {v.entry for v in violations(read_imports(package), module_files(package)) if v.rule == "serve"}
    assert found == {
        ("tracer.serve.app", "tracer.cli.common", "serve"),
        ("tracer.teach.feedback", "tracer.serve.app", "serve"),
    }
