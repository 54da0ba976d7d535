"""The engine never depends on the GUI: no Qt, no studio."""

import ast
import subprocess
import sys
from pathlib import Path

TRAINERS = Path(__file__).resolve().parents[2] / "trainers"
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "qtpy", "superqt", "pyqtgraph", "studio", "shiboken6")


def test_no_module_under_trainers_imports_qt_or_studio():
    offenders = []
    for path in TRAINERS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_the_engine_loads_no_qt_module():
    code = ("import sys, pkgutil, importlib, trainers\n"
            "for m in pkgutil.walk_packages(trainers.__path__, 'trainers.'):\n"
            "    importlib.import_module(m.name)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in %r]\n"
            "print(bad); sys.exit(1 if bad else 0)" % (FORBIDDEN,))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_command_lines_help_loads_no_torch():
    """`python -m trainers --help` (and each command's --help) answers at once: torch takes seconds to load."""
    code = ("import sys, trainers.cli\n"
            "trainers.cli.build_parser()\n"
            "print([m for m in sys.modules if m.split('.')[0] in ('torch', 'onnxruntime')][:5])\n"
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
