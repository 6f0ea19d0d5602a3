"""Mutation testing of one module against the tests that claim to cover it.

    ./manager mutate services/identity/src/identity/throttle.py \
        --tests services/identity/tests/test_brute_force.py [--max 40] [--jobs 2]

Each mutant is one small change a careless edit could make (a comparison
flipped, a constant off by one, `and` for `or`, a `not` dropped, a return
value replaced by None, a call deleted, `+` for `-`). The module's copy in a
scratch tree is rewritten with the mutant and the tests are run against it;
a mutant is *killed* when they fail, *survives* when they pass. The score is
killed / (tried - judged equivalent).

Mutants judged equivalent (no test could tell them apart, because the
behaviour is the same) are listed in `mutation-equivalent.txt` beside the
module's tests, one per line: `<module>|<mutant id>  # reason`. The id names
the function, the kind of change and the source text, so it survives line
moves.

Why a driver of our own: mutmut 3 and cosmic-ray both want one package at the
root of the tree; here five services and a shared library are tested in one
run with `--import-mode=importlib`. The scratch tree is put first on
PYTHONPATH, ahead of the editable installs, so the working tree is never
touched (other work can go on meanwhile).
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".venv", "data", "__pycache__", ".pytest_cache", "node_modules"}
COMPARE_SWAPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                 ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
               ast.Div: ast.Mult, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}
# Calls whose deletion changes nothing a test should pin (logging, metrics).
QUIET_CALLS = {"log", "logger", "logging"}


@dataclass(frozen=True)
class Mutant:
    ident: str  # function|kind|before -> after
    line: int
    index: int  # position among the module's mutation sites


@dataclass
class Outcome:
    ident: str
    line: int
    status: str  # killed | survived | timeout | equivalent
    seconds: float


class _Sites(ast.NodeVisitor):
    """Walks a module and lists every place a mutation applies, in order,
    with the function it is in."""

    def __init__(self) -> None:
        self.sites: list[tuple[ast.AST, str, str, str]] = []  # (node, kind, detail, scope)
        self._scope: list[str] = []

    def _add(self, node: ast.AST, kind: str, detail: str = "") -> None:
        self.sites.append((node, kind, detail, ".".join(self._scope) or "<module>"))

    def _in(self, node, name: str):
        self._scope.append(name)
        self.generic_visit(node)
        self._scope.pop()

    def visit_FunctionDef(self, node):  # noqa: N802 - ast visitor names
        self._in(node, node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):  # noqa: N802
        self._in(node, node.name)

    def visit_Expr(self, node):  # noqa: N802
        if isinstance(node.value, ast.Constant):  # docstrings
            return
        if isinstance(node.value, (ast.Call, ast.Await)) and self._scope and not _quiet(node.value):
            self._add(node, "delete-call")
        self.generic_visit(node)

    def visit_If(self, node):  # noqa: N802
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        self.generic_visit(node)

    def visit_Compare(self, node):  # noqa: N802
        for i, op in enumerate(node.ops):
            if type(op) in COMPARE_SWAPS:
                self._add(node, "compare", str(i))
        self.generic_visit(node)

    def visit_BoolOp(self, node):  # noqa: N802
        self._add(node, "boolop")
        self.generic_visit(node)

    def visit_UnaryOp(self, node):  # noqa: N802
        if isinstance(node.op, ast.Not):
            self._add(node, "drop-not")
        self.generic_visit(node)

    def visit_BinOp(self, node):  # noqa: N802
        if type(node.op) in BINOP_SWAPS and not _is_string_format(node):
            self._add(node, "binop")
        self.generic_visit(node)

    def visit_AugAssign(self, node):  # noqa: N802
        if type(node.op) in BINOP_SWAPS:
            self._add(node, "binop")
        self.generic_visit(node)

    def visit_Constant(self, node):  # noqa: N802
        if isinstance(node.value, bool):
            self._add(node, "bool")
        elif isinstance(node.value, int):
            self._add(node, "const", "+1")
            self._add(node, "const", "-1")

    def visit_Return(self, node):  # noqa: N802
        if node.value is not None and not (isinstance(node.value, ast.Constant) and node.value.value is None):
            self._add(node, "return-none")
        self.generic_visit(node)


def _quiet(call: ast.AST) -> bool:
    target = call.value if isinstance(call, ast.Await) else call
    func = getattr(target, "func", None)
    while isinstance(func, ast.Attribute):
        func = func.value
        if isinstance(func, ast.Call):
            func = func.func
    return isinstance(func, ast.Name) and (func.id in QUIET_CALLS or func.id.isupper())


def _is_string_format(node: ast.BinOp) -> bool:
    return isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)


def _apply(node: ast.AST, kind: str, detail: str) -> ast.AST | None:
    """The mutated replacement of `node` (None deletes a statement)."""
    new = copy.deepcopy(node)
    if kind == "compare":
        i = int(detail)
        new.ops[i] = COMPARE_SWAPS[type(new.ops[i])]()
    elif kind == "boolop":
        new.op = ast.Or() if isinstance(new.op, ast.And) else ast.And()
    elif kind == "drop-not":
        return new.operand
    elif kind == "binop":
        new.op = BINOP_SWAPS[type(new.op)]()
    elif kind == "bool":
        new.value = not new.value
    elif kind == "const":
        new.value = new.value + (1 if detail == "+1" else -1)
    elif kind == "return-none":
        new.value = ast.Constant(value=None)
    elif kind == "delete-call":
        return ast.Pass()
    return new


def _sites(source: str) -> tuple[ast.Module, list[tuple[ast.AST, str, str, str]]]:
    tree = ast.parse(source)
    finder = _Sites()
    finder.visit(tree)
    return tree, finder.sites


def enumerate_mutants(source: str) -> list[Mutant]:
    _, sites = _sites(source)
    mutants, seen = [], {}
    for index, (node, kind, detail, scope) in enumerate(sites):
        before = ast.unparse(node).splitlines()[0][:80]
        after_node = _apply(node, kind, detail)
        after = ast.unparse(after_node).splitlines()[0][:80] if after_node is not None else "pass"
        ident = f"{scope}|{kind}|{before} -> {after}"
        seen[ident] = seen.get(ident, 0) + 1
        if seen[ident] > 1:  # the same change twice in one function: number the later ones
            ident += f" #{seen[ident]}"
        mutants.append(Mutant(ident, getattr(node, "lineno", 0), index))
    return mutants


def mutated_source(source: str, index: int) -> str:
    tree, sites = _sites(source)
    node, kind, detail, _ = sites[index]
    _Replace(node, _apply(node, kind, detail)).visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree))


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, replacement: ast.AST | None) -> None:
        self.target, self.replacement = target, replacement

    def visit(self, node):
        if node is self.target:
            return self.replacement if self.replacement is not None else ast.Pass()
        return super().visit(node)


def _src_dirs(tree: Path) -> list[str]:
    """The import roots of the scratch tree, put ahead of the editable installs."""
    dirs = [tree / "shared" / "src"] + sorted((tree / "services").glob("*/src"))
    return [str(d) for d in dirs]


def scratch_tree(dest: Path) -> Path:
    """A copy of the working tree (without the venv, git and data) to mutate in."""
    def ignore(_dir, names):
        return [n for n in names if n in SKIP_DIRS]
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    return dest


def run_tests(tree: Path, tests: list[str], timeout: float) -> tuple[str, float]:
    """Run the tests in `tree`: 'passed', 'failed' or 'timeout', and the seconds taken."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(_src_dirs(tree)), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=--import-mode=importlib",
           *tests]
    started = time.monotonic()
    try:
        done = subprocess.run(cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - started
    return ("passed" if done.returncode == 0 else "failed"), time.monotonic() - started


def equivalents_file(tests: list[str]) -> Path:
    """`mutation-equivalent.txt` in the folder of the first test path."""
    first = ROOT / tests[0]
    folder = first if first.is_dir() else first.parent
    return folder / "mutation-equivalent.txt"


def read_equivalents(path: Path, module: str) -> dict[str, str]:
    """{mutant id: reason} of the module's mutants judged equivalent."""
    if not path.exists():
        return {}
    found = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        entry, _, reason = line.partition("  # ")
        name, _, ident = entry.partition("|")
        if name == module:
            found[ident.strip()] = reason.strip()
    return found


def choose(mutants: list[Mutant], limit: int | None, seed: int) -> list[Mutant]:
    if limit is None or limit >= len(mutants):
        return mutants
    picked = random.Random(seed).sample(mutants, limit)
    return sorted(picked, key=lambda m: m.index)


def mutate(module: str, tests: list[str], *, limit: int | None, seed: int, jobs: int) -> dict:
    source_path = ROOT / module
    source = source_path.read_text()
    mutants = choose(enumerate_mutants(source), limit, seed)
    equivalent = read_equivalents(equivalents_file(tests), module)
    with tempfile.TemporaryDirectory(prefix="manager-mutate-") as tmp:
        trees = [scratch_tree(Path(tmp) / f"tree{i}") for i in range(jobs)]
        baseline, seconds = run_tests(trees[0], tests, timeout=1800)
        if baseline != "passed":
            raise SystemExit(f"the tests fail before any mutation ({baseline}): fix them first")
        timeout = seconds * 3 + 30
        print(f"{module}: {len(mutants)} mutants, baseline {seconds:.1f} s", flush=True)

        def one(job: tuple[int, Mutant]) -> Outcome:
            slot, mutant = job
            tree = trees[slot % jobs]
            target = tree / module
            target.write_text(mutated_source(source, mutant.index))
            try:
                status, took = run_tests(tree, tests, timeout)
            finally:
                target.write_text(source)
            status = {"failed": "killed", "timeout": "killed", "passed": "survived"}[status]
            if status == "survived" and mutant.ident in equivalent:
                status = "equivalent"
            print(f"  {status:10} line {mutant.line:4}  {mutant.ident}", flush=True)
            return Outcome(mutant.ident, mutant.line, status, round(took, 1))

        # one mutant per scratch tree at a time: slot i always uses tree i % jobs
        outcomes: list[Outcome] = []
        for start in range(0, len(mutants), jobs):
            batch = list(enumerate(mutants[start:start + jobs]))
            with ThreadPoolExecutor(jobs) as pool:
                outcomes.extend(pool.map(one, batch))
    counted = [o for o in outcomes if o.status != "equivalent"]
    killed = sum(o.status == "killed" for o in counted)
    return {"module": module, "tests": tests, "tried": len(outcomes), "equivalent": len(outcomes) - len(counted),
            "killed": killed, "score": round(killed / len(counted), 3) if counted else 1.0,
            "survivors": [asdict(o) for o in outcomes if o.status == "survived"],
            "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", help="path of the module, e.g. services/identity/src/identity/throttle.py")
    parser.add_argument("--tests", nargs="+", required=True, help="test files or folders that cover it")
    parser.add_argument("--max", type=int, default=None, help="try at most this many mutants (sampled)")
    parser.add_argument("--seed", type=int, default=1, help="sampling seed (the same seed picks the same mutants)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once, each in its own scratch tree")
    parser.add_argument("--list", action="store_true", help="only list the mutants")
    parser.add_argument("--results", default="tools/mutation-results.json",
                        help="JSON file the module's result is merged into")
    args = parser.parse_args(argv)
    if args.list:
        for m in enumerate_mutants((ROOT / args.module).read_text()):
            print(f"{m.line:4}  {m.ident}")
        return 0
    result = mutate(args.module, args.tests, limit=args.max, seed=args.seed, jobs=max(1, args.jobs))
    path = ROOT / args.results
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged[args.module] = result
    path.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n")
    print(f"{args.module}: killed {result['killed']} of {result['tried'] - result['equivalent']} "
          f"({result['score']:.0%}), {result['equivalent']} judged equivalent; written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
