"""Authoring rules, checked for every question: statically at release, by grading with `--verify`.

Static (`static_problems`, run by every release):
    checks   every question has a check file; every check has a title (docstring) and points > 0
    secrets  no f-string of a check file interpolates an expected value, a reference or a threshold
             (those strings become student messages)
    leaks    no code line of a solution region, or of a declared example that earns full marks,
             appears in the student version or a page of the book

Graded (`graded_problems`, run by `release --verify` and the tests): the reference earns full
marks, the blank released notebook and the garbage students earn nothing, every declared example
earns exactly its declared points per check.
"""
from __future__ import annotations

import ast
import json
import tempfile
from pathlib import Path

from . import examples as ex
from .checker.runner import load_checks
from .course import Course
from .submission import is_answer_cell

# Names whose values a student must never see in a message.
SECRET_NAMES = ("expected", "ref", "reference", "threshold", "answer", "solution", "correct")
MIN_LEAK_LINE = 20  # shorter lines (`return out`, `import numpy as np`) are common to prompt and answer


def static_problems(course: Course, homework: str, released: Path | None = None) -> list[str]:
    """Problems of every question; `released`: the folder of the student versions to scan for leaks
    (default assignments/<homework>)."""
    problems = []
    for question in course.questions(homework):
        where = f"{homework}/{question}"
        path = course.checks / homework / f"test_{question}.py"
        if not path.exists():
            problems.append(f"{where}: no hidden checks (expected {path.relative_to(course.root)})")
            continue
        catalogue = load_checks(course, homework, question).catalogue
        if not catalogue:
            problems.append(f"{where}: the check file defines no test_ function")
        for check in catalogue:
            if check["title"] == check["id"]:
                problems.append(f"{where}: {check['id']} has no title (the first line of its docstring)")
            if check["max_points"] <= 0:
                problems.append(f"{where}: {check['id']} has no points (@pytest.mark.points(n), n > 0)")
        problems += [f"{where}: {p}" for p in secret_interpolations(path.read_text())]
        problems += [f"{where}: {p}" for p in leaks(course, homework, question, released)]
    return problems


def secret_interpolations(source: str) -> list[str]:
    """f-string fields that name an expected value: every f-string of a check file may reach a student."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.JoinedStr):
            continue
        for value in node.values:
            if not isinstance(value, ast.FormattedValue):
                continue
            for name in ast.walk(value.value):
                ident = name.id if isinstance(name, ast.Name) else name.attr if isinstance(name, ast.Attribute) else ""
                if ident.lower().lstrip("_").startswith(SECRET_NAMES):
                    found.append(f"line {node.lineno}: a message shows `{ident}`, an expected value")
    return found


def _code_lines(source: str) -> set[str]:
    lines = (line.strip() for line in source.splitlines())
    return {line for line in lines if len(line) >= MIN_LEAK_LINE and not line.startswith("#")}


def solution_region(source: str) -> str:
    """The text nbgrader removes: between the solution markers, or the whole cell without them."""
    parts = ex.SOLUTION_MARKER.split(source)
    if len(parts) == 1:
        return source
    # split() keeps the captured BEGIN/END words: regions follow each "BEGIN".
    return "\n".join(parts[i + 1] for i, word in enumerate(parts) if word == "BEGIN")


def leaks(course: Course, homework: str, question: str, released: Path | None = None) -> list[str]:
    """Solution lines found in what students see (the released notebook, the book's pages)."""
    secret, given = set(), set()
    for cell in ex.master(course, homework, question).cells:
        if is_answer_cell(cell) and cell.cell_type == "code":
            region = solution_region(cell.source)
            secret |= _code_lines(region)
            given |= _code_lines(cell.source.replace(region, ""))
        else:
            given |= _code_lines(cell.source)
    released = (released or course.assignments / homework) / f"{question}.ipynb"
    student_text, stubs = [], set()
    if released.exists():
        nb = json.loads(released.read_text())
        sources = {id(c): "".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in nb["cells"]}
        student_text += list(sources.values())
        # What nbgrader leaves in an answer cell (e.g. `raise NotImplementedError()`) is given too.
        stubs = {line for c in nb["cells"] if is_answer_cell(c) for line in _code_lines(sources[id(c)])}
    for example in ex.declared(course, homework, question):
        if example.points == {} and example.status == "graded":  # a full-marks answer
            for source in example.answers.values():
                secret |= _code_lines(source) - given - stubs  # signatures and prompts are given to everyone
    student_text += [p.read_text() for p in sorted((course.root / "book").glob("*.md"))]
    shown = "\n".join(student_text)
    return [f"a line of the solution is visible to students: {line[:80]!r}" for line in sorted(secret) if line in shown]


def graded_problems(course: Course, homework: str, questions: list[str] | None = None,
                    grade_kwargs: dict | None = None) -> list[str]:
    """Grade every example of the questions in a scratch workspace; the differences from what they
    declare, one line each (empty when every example earns exactly its declared points)."""
    from .grade import GradingOptions, grade_homework

    questions = questions or course.questions(homework)
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        scratch = Course(course.root, Path(tmp) / "workspace")
        scratch.ensure_workspace()
        declared = {}
        for question in questions:
            for example in ex.examples(course, homework, question):
                path = scratch.submitted / example.student / homework / f"{question}.ipynb"
                ex.write(path, ex.notebook(course, homework, question, example))
                declared[example.student, question] = example
        options = GradingOptions(**(grade_kwargs or {}))
        grades = {(g.student, g.notebook): g for g in grade_homework(scratch, homework, options)}
    problems = []
    for (student, question), example in declared.items():
        catalogue = load_checks(course, homework, question).catalogue
        problems += [f"{homework}/{question} {student}: {p}"
                     for p in ex.compare(grades[student, question], example, catalogue)]
    return problems
