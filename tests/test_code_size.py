"""No function longer than 60 lines and no class longer than 250 lines under src/ (DEVELOPERS.md):
past that, a piece of code does several things and wants splitting. No exceptions."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_FUNCTION, MAX_CLASS = 60, 250


def test_functions_and_classes_stay_short() -> None:
    too_long = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                limit = MAX_CLASS if isinstance(node, ast.ClassDef) else MAX_FUNCTION
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - first + 1
                if length > limit:
                    too_long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {length} lines > {limit}")
    assert not too_long, "split these:\n" + "\n".join(too_long)
