"""The shape of the code: imports go one way (tomato → drivers → actors), never through
another package's private module, never in a circle; each process of tomato has its own
sub-package; lazy re-exports keep their types."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LAYERS = {"actors": 0, "drivers": 1, "tomato": 2}
"""The repository's folders, lowest layer first."""
INSTALLED = {"actors": "tomato.actors", "drivers": "tomato.drivers", "tomato": "tomato"}
"""Their import names: installed, actors/ and drivers/ are inside tomato."""
PROCESSES = ("cli", "service", "job", "outputs", "web")
"""tomato's sub-packages, one per kind of process."""


def module_name(path: Path) -> str:
    folder, *parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join([INSTALLED[folder], *(parts[:-1] if parts[-1] == "__init__" else parts)])


def folder_of(module: str) -> str | None:
    """The repository folder (layer) a module's code is in; None: not ours."""
    return next((folder for folder, name in INSTALLED.items()
                 if module == name or module.startswith(name + ".")), None)


def is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(path: Path, *, run_time_only: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in `path` (with run_time_only, not those
    under `if TYPE_CHECKING:`). `from . import x` counts as an import of the module x."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    skipped = {id(n) for node in ast.walk(tree) if run_time_only and is_type_checking(node)
               for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            module = ".".join(filter(None, (base, node.module)))
            if node.module is None:  # from . import x, y: modules (or names of the package)
                found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, module))
    return found


def sources() -> list[Path]:
    return sorted(p for package in LAYERS for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_imports_go_one_way_and_only_through_public_names(package):
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imports(path):
            top = folder_of(module)
            if top is None or top == package:
                continue
            rest = module.removeprefix(INSTALLED[top])
            where = f"{path.relative_to(ROOT)}:{line} imports {module}"
            if LAYERS[top] > LAYERS[package]:
                bad.append(f"{where} (reverse edge)")
            elif any(part.startswith("_") for part in rest.split(".") if part):
                bad.append(f"{where} (private module of another package)")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("run_time_only", [True, False], ids=["run-time", "type-only-too"])
def test_no_module_imports_itself_through_a_circle(run_time_only):
    """Not at run time, and not for the type checker either: a circle of type-only imports
    is a circle of modules that know each other's insides."""
    modules = {module_name(p): p for p in sources()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = set()
        for _, target in imports(path, run_time_only=run_time_only):
            while target and target not in modules:  # `from pkg import name`: the package
                target = target.rpartition(".")[0]
            lazy = not run_time_only and path.name == "__init__.py" \
                and target.startswith(name + ".")  # a re-export the type checker is shown
            if target and target != name and not lazy:
                graph[name].add(target)
    # A module importing its own package's __init__ is how Python works, not a circle.
    circles = [c for c in strongly_connected(graph) if len(c) > 1]
    assert not circles, circles


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_module_is_longer_than_the_house_limit():
    long = [f"{p.relative_to(ROOT)}: {n} lines" for p in sources()
            if (n := len(p.read_text().splitlines())) > 400]
    assert not long, long


def test_supervisor_class_stays_small():
    lines = (ROOT / "tomato" / "service" / "supervisor.py").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("class Supervisor("))
    end = next((i for i, line in enumerate(lines[start + 1:], start + 1)
                if line and not line[0].isspace()), len(lines))
    assert end - start <= 260, end - start


SERVICE = ROOT / "tomato" / "service"
MUTATORS = {"pop", "popitem", "clear", "update", "append", "extend", "add", "discard",
            "remove", "setdefault", "insert"}


def functions(path: Path) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [node for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def written(node: ast.AST) -> list[ast.expr]:
    """What `node` writes into: assignment and del targets, and the container a mutating
    method is called on (`x.a.pop(…)`: `x.a`)."""
    if isinstance(node, (ast.Assign, ast.Delete)):
        return node.targets
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return [node.target]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr in MUTATORS:
        return [node.func.value]
    return []


def root_of(target: ast.expr) -> tuple[str | None, int]:
    """The name an attribute/subscript chain starts from, and how many attributes deep."""
    depth = 0
    while isinstance(target, (ast.Attribute, ast.Subscript)):
        depth += isinstance(target, ast.Attribute)
        target = target.value
    return (target.id if isinstance(target, ast.Name) else None), depth


def test_no_function_of_the_service_takes_the_supervisor():
    """Each part of the service gets the collaborators it uses (the store, the pipelines,
    the queue, a callback), not the supervisor with all of its state."""
    bad = [f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name}({arg.arg})"
           for path in sorted(SERVICE.rglob("*.py")) for fn in functions(path)
           for arg in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)
           if arg.arg == "sup" or re.search(r"\bSupervisor\b",
                                            ast.unparse(arg.annotation or ast.Name("")))]
    assert not bad, bad


def test_only_the_supervisor_writes_its_state():
    """The supervisor is the only writer of its state: outside supervisor.py nothing writes
    through a Supervisor (only serve.py, which builds it, holds one), and no function of the
    service writes into what it was given (its parameters' attributes and items): a
    collaborator changes by its own methods, a decision goes back to the supervisor."""
    bad = []
    for path in sorted(SERVICE.rglob("*.py")):
        if path.name == "supervisor.py":
            continue
        for fn in functions(path):
            params = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args,
                                      *fn.args.kwonlyargs)} - {"self", "cls"}
            held = {t.id for node in ast.walk(fn) if (isinstance(node, ast.Assign)
                    and "Supervisor(" in ast.unparse(node.value)) or (isinstance(
                        node, ast.Assign) and ast.unparse(node.value) in ("supervisor", "sup"))
                    for t in node.targets if isinstance(t, ast.Name)}
            for node in ast.walk(fn):
                for target in written(node):
                    name, depth = root_of(target)
                    if depth and (name in held or name in params):
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno} writes "
                                   f"{ast.unparse(target)}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("process", PROCESSES)
def test_each_process_package_imports_only_itself_and_the_shared_vocabulary(process):
    """Which process am I in? The sub-package says; none reaches into another's."""
    bad = []
    for path in sorted((ROOT / "tomato" / process).rglob("*.py")):
        for line, module in imports(path):
            parts = module.split(".")
            if parts[0] == "tomato" and len(parts) > 1 and parts[1] in PROCESSES \
                    and parts[1] != process:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bad, "\n".join(bad)


def test_the_shared_vocabulary_imports_no_process_package():
    bad = [f"{path.name}:{line} imports {module}"
           for path in sorted((ROOT / "tomato").glob("*.py"))
           for line, module in imports(path, run_time_only=True)
           if module.split(".")[:2][-1] in PROCESSES and module.startswith("tomato.")]
    assert not bad, bad


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_every_public_name_is_importable(package):
    module = importlib.import_module(INSTALLED[package])
    for name in module.__all__:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_every_lazy_reexport_is_imported_for_the_type_checker(package):
    tree = ast.parse((ROOT / package / "__init__.py").read_text())
    lazy = next((ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)), {})
    checked = {alias.asname or alias.name for node in tree.body if is_type_checking(node)
               for sub in ast.walk(node) if isinstance(sub, ast.ImportFrom)
               for alias in sub.names}
    assert set(lazy) <= checked, sorted(set(lazy) - checked)


def test_the_cli_path_imports_nothing_heavy():
    code = ("import sys, tomato.cli.ketchup, tomato.cli.daemon; "
            "print(' '.join(m for m in ('yadg', 'xarray', 'pandas', 'numpy', 'pydantic', "
            "'dgbowl_schemas', 'sqlite3', 'tomato.drivers.messages', 'tomato.service') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""
