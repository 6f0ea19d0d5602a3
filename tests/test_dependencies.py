"""X-05: each package declares what it imports, so a service installed on its
own (its image) imports and starts.

1. deptry, per package against its own pyproject.toml: nothing imported
   without being declared (missing or only transitive), nothing declared and
   unused (the few loaded by name are listed in that pyproject's
   `[tool.deptry]`, with the reason).
2. What deptry cannot see (a library loading an optional package, as
   pydantic does for `EmailStr`): each service is imported and its app built
   in a fresh interpreter that may only import the distributions its own
   declared requirements pull in (a sandbox over this venv, much faster than
   a venv per service).
3. The versions a pyproject.toml pins are the ones in constraints.txt.
"""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("identity", "organizations", "billing", "domains", "notifications")
PACKAGES = ("shared", *(f"services/{name}" for name in SERVICES))


@pytest.mark.parametrize("package", PACKAGES)
def test_x_05_package_declares_exactly_what_it_imports(package):
    run = subprocess.run([sys.executable, "-m", "deptry", "."], cwd=ROOT / package, capture_output=True,
                         text=True, timeout=120, env={"NO_COLOR": "1", "PATH": str(Path(sys.executable).parent)})
    assert run.returncode == 0, f"{package}:\n{run.stdout}{run.stderr}"


_SANDBOX = textwrap.dedent('''
    import importlib, importlib.metadata as md, pkgutil, sys, tempfile
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    service = sys.argv[1]

    def closure(name, extras=()):
        """Distributions a requirement pulls in, with the extras asked for."""
        seen, todo = set(), [(name, tuple(extras))]
        while todo:
            dist_name, wanted = todo.pop()
            key = (canonicalize_name(dist_name), wanted)
            if key in seen:
                continue
            seen.add(key)
            for line in md.distribution(dist_name).requires or ():
                req = Requirement(line)
                if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *wanted)):
                    todo.append((req.name, tuple(sorted(req.extras))))
        return {n for n, _ in seen}

    allowed = closure(f"manager-{service}")
    owners = md.packages_distributions()  # top-level module -> distributions providing it

    class OnlyDeclared:
        """Imports of a module whose distribution the service does not require fail,
        as they would in an environment holding only its requirements."""
        def find_spec(self, fullname, path=None, target=None):
            top = fullname.partition(".")[0]
            dists = {canonicalize_name(d) for d in owners.get(top, ())}
            if dists and not dists & allowed:
                raise ModuleNotFoundError(f"No module named {top!r} (not required by manager-{service})",
                                          name=top)
            return None

    sys.meta_path.insert(0, OnlyDeclared())
    package = importlib.import_module(service)
    for module in pkgutil.walk_packages(package.__path__, f"{service}."):
        if not module.name.endswith(".__main__"):  # the command line, it would run
            importlib.import_module(module.name)
    main, config = importlib.import_module(f"{service}.main"), importlib.import_module(f"{service}.config")
    with tempfile.TemporaryDirectory() as tmp:
        settings = config.Settings(database_url=f"sqlite+aiosqlite:///{tmp}/s.db", consumers_enabled=False)
        app = main.create_app(settings)
        assert app.openapi()["paths"], "no routes"
    print("ok")
''')


@pytest.mark.parametrize("name", SERVICES)
def test_x_05_service_imports_and_starts_with_only_its_declared_requirements(name, tmp_path):
    run = subprocess.run([sys.executable, "-c", _SANDBOX, name], cwd=tmp_path, capture_output=True, text=True,
                         timeout=180)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), f"{name}:\n{run.stdout}{run.stderr[-3000:]}"


def _pins(text: str) -> dict[str, str]:
    found = re.findall(r"^\s*\"?([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s\",;#]+)", text, re.M)
    return {re.sub(r"[-_.]+", "-", n).lower(): v for n, v in found}


@pytest.mark.parametrize("package", PACKAGES)
def test_x_05_pyproject_pins_are_the_constraints(package):
    constraints = _pins((ROOT / "constraints.txt").read_text())
    declared = _pins((ROOT / package / "pyproject.toml").read_text())
    wrong = {n: (v, constraints.get(n)) for n, v in declared.items() if constraints.get(n) != v}
    assert not wrong, f"{package}: pinned differently from constraints.txt (pyproject, constraints): {wrong}"
