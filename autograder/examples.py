"""Example submissions: declared once per question, used by every tool that needs them.

A question's declarations live in `examples/<homework>/<question>.py`:

    EXAMPLES = [
        Example("flipped_kernel", "cross_correlate2d flips the kernel",
                answers={"conv_xcorr_solution": SOURCE},        # answer cells replaced (by grade_id)
                points={"test_cross_correlation_values": 0}),   # checks not listed earn full marks
    ]

Every question also gets, without declaring them: `reference` (the master's solutions: full marks),
`blank` (the released notebook, untouched: nothing) and three `garbage_*` students whose answer
cells define every name the solution defines as NaN arrays, always-equal objects or strings
(nothing). The same list feeds the generator of `examples/submissions/`, its README table, the
end-to-end tests, `release --verify` and the benchmark.
"""
from __future__ import annotations

import ast
import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .checker.runner import load_checks
from .course import Course
from .gradebook import NotebookGrade
from .submission import grade_id, is_answer_cell

SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
ALL = "all"  # `points=0` means every check earns 0

GARBAGE = {
    "garbage_nan": "__np.full((3, 3), __np.nan)",
    "garbage_always_equal": "__AlwaysEqual()",
    "garbage_wrong_type": "'42'",
}
GARBAGE_PRELUDE = '''import numpy as __np


class __AlwaysEqual:
    """Equal to everything: a classic way to fool `==`-based checks."""
    __eq__ = lambda self, other: True
    __ne__ = lambda self, other: False
    __hash__ = object.__hash__
'''


@dataclass
class Example:
    student: str
    what: str                                    # the mistake, in an instructor's words
    answers: dict[str, str] = field(default_factory=dict)   # grade_id -> source of the answer cell
    append: dict[str, str] = field(default_factory=dict)    # grade_id -> lines added after the solution
    points: dict[str, float] | int = field(default_factory=dict)  # check id -> points; 0: all zero
    status: str = "graded"
    first_cell: str | None = None                # a code cell the student added at the top
    raw: str | None = None                       # the file's text instead of a notebook

    def expected(self, catalogue: list[dict]) -> dict[str, float]:
        if self.points == 0:
            return {c["id"]: 0.0 for c in catalogue}
        return {c["id"]: float(self.points.get(c["id"], c["max_points"])) for c in catalogue}


def declared(course: Course, homework: str, question: str) -> list[Example]:
    path = course.root / "examples" / homework / f"{question}.py"
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location(f"examples_{homework}_{question}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.EXAMPLES)


def examples(course: Course, homework: str, question: str) -> list[Example]:
    """The built-in students, then the question's declared examples."""
    built_in = [Example("reference", "nothing: the master solutions"),
                Example("blank", "the released notebook, unanswered", points=0)]
    built_in += [Example(name, f"every name the solution defines is {expr.replace('__', '')}", points=0)
                 for name, expr in GARBAGE.items()]
    return built_in + declared(course, homework, question)


def master(course: Course, homework: str, question: str):
    return nbformat.read(course.solutions / homework / f"{question}.ipynb", as_version=4)


def solution_source(cell) -> str:
    return SOLUTION_MARKER.sub("", cell.source).strip("\n")


def defined_names(source: str) -> tuple[list[str], list[str]]:
    """(functions, variables) defined at the top level of a cell's source."""
    functions, variables = [], []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name) and name.id not in variables:
                        variables.append(name.id)
    return functions, variables


def garbage_source(solution: str, expression: str) -> str:
    functions, variables = defined_names(solution)
    lines = [GARBAGE_PRELUDE]
    lines += [f"def {name}(*args, **kwargs):\n    return {expression}\n" for name in functions]
    lines += [f"{name} = {expression}" for name in variables]
    return "\n".join(lines)


def notebook(course: Course, homework: str, question: str, example: Example):
    """The file a student would hand in: a notebook node, or text for `raw` examples."""
    if example.raw is not None:
        return example.raw
    if example.student == "blank":
        return nbformat.read(course.assignments / homework / f"{question}.ipynb", as_version=4)
    # What students hand in: the released notebook with its answer cells filled in.
    nb = nbformat.read(course.assignments / homework / f"{question}.ipynb", as_version=4)
    solutions = {grade_id(c): solution_source(c) for c in master(course, homework, question).cells
                 if is_answer_cell(c)}
    unused = set(example.answers) | set(example.append)
    for cell in nb.cells:
        if not is_answer_cell(cell):
            continue
        gid = grade_id(cell)
        if gid in example.answers:
            cell.source = example.answers[gid]
            unused.discard(gid)
        elif example.student in GARBAGE and cell.cell_type == "code":
            cell.source = garbage_source(solutions[gid], GARBAGE[example.student])
        elif example.student in GARBAGE:
            cell.source = ""
        else:
            cell.source = solutions[gid]
        if gid in example.append:
            cell.source += "\n" + example.append[gid]
            unused.discard(gid)
    if unused:
        raise KeyError(f"{homework}/{question}: example {example.student!r} replaces cells "
                       f"{sorted(unused)}, which are not answer cells of the released notebook")
    if example.first_cell:
        extra = nbformat.v4.new_code_cell(example.first_cell)
        extra["id"] = "student-first-cell"
        nb.cells.insert(0, extra)
    return nb


def write(path: Path, content) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def generate(course: Course, out: Path, homeworks: list[str] | None = None) -> list[Path]:
    """Write every example of every question to out/<student>/<homework>/<question>.ipynb and the
    README table; returns the files written."""
    written = []
    for homework in homeworks or course.homeworks():
        for question in course.questions(homework):
            for example in examples(course, homework, question):
                path = out / example.student / homework / f"{question}.ipynb"
                write(path, notebook(course, homework, question, example))
                written.append(path)
    readme = out / "README.md"
    readme.write_text(readme_text(course, homeworks or course.homeworks()))
    return written + [readme]


def compare(grade: NotebookGrade, example: Example, catalogue: list[dict]) -> list[str]:
    """How a grade differs from what the example declares (empty when it earns exactly that)."""
    problems = []
    if grade.status != example.status:
        problems.append(f"status {grade.status!r}, declared {example.status!r} ({grade.message})")
    got = {c["id"]: c["points"] for c in grade.checks}
    for check_id, points in example.expected(catalogue).items():
        if abs(got.get(check_id, -1) - points) > 1e-3:
            message = next((c["message"] for c in grade.checks if c["id"] == check_id), "")
            problems.append(f"{check_id}: {got.get(check_id)} points, declared {points:g} ({message[:300]})")
    return problems


def readme_text(course: Course, homeworks: list[str]) -> str:
    lines = ["# Example submissions", "",
             "Generated by `python -m autograder examples` from the declarations in "
             "`examples/<homework>/<question>.py`; do not edit. Layout `<student>/<homework>/<question>.ipynb`, "
             "as `python -m autograder collect --from examples/submissions` expects. Every question has "
             "`reference` (full marks), `blank` and three `garbage_*` students (nothing); the declared "
             "students make realistic mistakes and earn exactly the points below (the tests check them).", ""]
    for homework in homeworks:
        lines += [f"## {homework}", "", "| question | student | what is wrong | status | points | lost on |",
                  "|---|---|---|---|---|---|"]
        for question in course.questions(homework):
            catalogue = load_checks(course, homework, question).catalogue
            total = sum(c["max_points"] for c in catalogue)
            for example in examples(course, homework, question):
                expected = example.expected(catalogue)
                lost = [f"{cid.removeprefix('test_')} {expected[cid]:g}/{c['max_points']:g}"
                        for c in catalogue if (cid := c["id"]) and expected[cid] < c["max_points"]]
                lost_text = "every check" if example.points == 0 else ", ".join(lost) or "-"
                lines.append(f"| {question} | `{example.student}` | {example.what} | {example.status} | "
                             f"{sum(expected.values()):g}/{total:g} | {lost_text} |")
        lines.append("")
    return "\n".join(lines)
