"""The package layering of DESIGN.md section 2: imports only point down the table.

Two checks: every import statement in the source (also those inside functions, which run
later) names only packages the table allows, and importing a package loads no package above
it and configures no logging.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("btut", "market", "routing", "agents", "risk", "forecasting", "data")

# DESIGN.md section 2, "may import". One documented exception: the one error hierarchy lives
# in the lowest layer (data.errors), and risk raises its errors, so risk imports exactly that
# module of data and nothing else of it.
MAY_IMPORT: dict[str, set[str]] = {
    "btut": {"market", "routing", "agents", "risk", "forecasting", "data"},
    "market": {"agents", "risk", "forecasting", "data"},
    "routing": {"data"},
    "agents": {"risk", "forecasting", "data"},
    "risk": set(),
    "forecasting": {"data"},
    "data": set(),
}
EXCEPTIONS: dict[str, set[str]] = {"risk": {"data.errors"}}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in ``path``; relative imports stay inside
    their package and are refused separately."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append((node.lineno, "." * node.level + (node.module or "")))
            else:
                found.append((node.lineno, node.module or ""))
    return found


def _breaches(package: str) -> list[str]:
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in _imports(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if module.startswith("."):
                out.append(f"{where} relative import {module} (absolute imports only)")
                continue
            top = module.split(".")[0]
            if top not in FIRST_PARTY or top == package or top in MAY_IMPORT[package]:
                continue
            if any(module == m or module.startswith(m + ".") for m in EXCEPTIONS.get(package, ())):
                continue
            out.append(f"{where} imports {module}")
    return out


@pytest.mark.parametrize("package", FIRST_PARTY)
def test_source_imports_point_down_the_table(package: str) -> None:
    assert _breaches(package) == []


def test_the_checker_sees_a_breach(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan finds upward, function-level and relative imports (so an empty list above
    means something)."""
    pkg = tmp_path / "routing"
    pkg.mkdir()
    (pkg / "bad.py").write_text(
        "import numpy\nfrom data import x\n\ndef f():\n    from market import y\n"
        "    import risk.cvar\n    from . import z\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _breaches("routing") == [
        "routing/bad.py:5 imports market",
        "routing/bad.py:6 imports risk.cvar",
        "routing/bad.py:7 relative import . (absolute imports only)",
    ]
    risk = tmp_path / "risk"
    risk.mkdir()
    (risk / "ok.py").write_text("from data.errors import E\nfrom data.store import S\n")
    assert _breaches("risk") == ["risk/ok.py:2 imports data.store"]


_PROBE = """
import json, logging, sys
before = (list(logging.root.handlers), logging.root.level)
import {package}
mod = sys.modules['{package}']
for name in getattr(mod, '__all__', []):
    getattr(mod, name)
print(json.dumps({{
    "loaded": sorted({{m.split('.')[0] for m in sys.modules}} & set({first_party})),
    "logging_changed": (list(logging.root.handlers), logging.root.level) != before,
}}))
"""


@pytest.mark.parametrize("package", [p for p in FIRST_PARTY if p != "btut"])
def test_importing_a_package_loads_nothing_above_it(package: str) -> None:
    """A fresh interpreter imports the package and touches every public name: only the
    package itself and what it may import are loaded, and the root logger is untouched."""
    code = _PROBE.format(package=package, first_party=list(FIRST_PARTY))
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    probe = json.loads(run.stdout.strip().splitlines()[-1])
    allowed = (
        {package} | MAY_IMPORT[package] | {m.split(".")[0] for m in EXCEPTIONS.get(package, ())}
    )
    assert set(probe["loaded"]) <= allowed
    assert probe["logging_changed"] is False
