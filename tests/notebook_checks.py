"""What a *thin* notebook is, measured: the notebooks drive fpblur, the logic lives (and is tested) in the package.

A code cell may hold at most ``MAX_CELL_LINES`` lines of code (blank and comment-only lines not counted); a
function or class defined in a cell at most ``MAX_DEF_LINES`` lines (a one-line helper, not an algorithm); a
``for``/``while`` loop at most ``MAX_LOOP_LINES`` lines; and the notebook imports from ``fpblur``.
"""

from __future__ import annotations

import ast

MAX_CELL_LINES = 40
MAX_DEF_LINES = 3
MAX_LOOP_LINES = 8


def code_lines(source: str) -> int:
    """Lines that are neither blank nor only a comment."""
    return sum(1 for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def _python(source: str) -> str:
    """The cell as plain Python (IPython's own transform: ``%magic`` and ``!shell`` lines become calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _imports_fpblur(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and (node.module or "").split(".")[0] == "fpblur"
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "fpblur" for alias in node.names)
    return False


def thinness_problems(nb) -> list[str]:
    """Every way ``nb`` (an ``nbformat`` notebook) breaks the rules above; empty when it is thin."""
    problems: list[str] = []
    imports_fpblur = False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        n = code_lines(cell.source)
        if n > MAX_CELL_LINES:
            problems.append(f"cell {i}: {n} lines of code (at most {MAX_CELL_LINES})")
        try:
            tree = ast.parse(_python(cell.source))
        except SyntaxError as exc:
            problems.append(f"cell {i}: not valid Python ({exc.msg}, line {exc.lineno})")
            continue
        for node in ast.walk(tree):
            imports_fpblur = imports_fpblur or _imports_fpblur(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                kind, limit = ("class" if isinstance(node, ast.ClassDef) else "def"), MAX_DEF_LINES
                what = f"{kind} {node.name}"
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
                kind, limit = ("while" if isinstance(node, ast.While) else "for"), MAX_LOOP_LINES
                what = f"{kind} loop"
            else:
                continue
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                problems.append(
                    f"cell {i}, line {node.lineno}: {what} is {length} lines (at most {limit}; "
                    f"move the logic into fpblur)"
                )
    if not imports_fpblur:
        problems.append("no code cell imports from fpblur")
    return problems
