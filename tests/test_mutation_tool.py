"""The mutation-testing driver (issue 10's `./manager mutate`): every mutant it
lists compiles, changes the program, and is applied where it says."""
from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tool():
    spec = importlib.util.spec_from_file_location("manager_mutate", ROOT / "tools" / "mutate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SAMPLE = '''
"""doc"""
LIMIT = 10


def allowed(count, blocked):
    """Docstring is not mutated."""
    log.info("not mutated either")
    if not blocked and count < LIMIT:
        return True
    record(count + 1)
    return False
'''


def test_x_03_every_listed_mutant_compiles_and_differs():
    tool = _tool()
    mutants = tool.enumerate_mutants(SAMPLE)
    kinds = {m.ident.split("|")[1] for m in mutants}
    assert {"const", "drop-not", "boolop", "compare", "bool", "binop", "delete-call"} <= kinds
    original = ast.dump(ast.parse(SAMPLE))
    for m in mutants:
        changed = tool.mutated_source(SAMPLE, m.index)
        compile(changed, "<mutant>", "exec")
        assert ast.dump(ast.parse(changed)) != original, m.ident
    assert not any("log.info" in m.ident for m in mutants)  # logging calls are not worth a mutant
    assert len({m.ident for m in mutants}) == len(mutants)  # ids are unique (equivalents are listed by id)


def test_x_03_a_mutant_changes_behaviour_where_it_says():
    tool = _tool()
    flip = next(m for m in tool.enumerate_mutants(SAMPLE) if m.ident.endswith("count < LIMIT -> count <= LIMIT"))
    scope: dict = {"log": type("L", (), {"info": staticmethod(lambda *_: None)}), "record": lambda _: None}
    exec(tool.mutated_source(SAMPLE, flip.index), scope)
    assert scope["allowed"](10, False) is True  # the original refuses 10


def test_x_03_equivalents_are_read_per_module(tmp_path):
    tool = _tool()
    listed = tmp_path / "mutation-equivalent.txt"
    listed.write_text("# comment\na.py|f|const|1 -> 2  # same result\nb.py|g|bool|True -> False  # other module\n")
    assert tool.read_equivalents(listed, "a.py") == {"f|const|1 -> 2": "same result"}
