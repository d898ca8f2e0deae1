"""The instructor's command line: `python -m autograder <command>`.

    build      build the course website (warnings are errors)
    release    solutions/<hw> -> assignments/<hw> via nbgrader; --check fails when stale;
               --verify grades the reference, the blank notebook and every declared example
    homeworks  print the course's homeworks, in the book's order
    examples   regenerate examples/submissions/ from the declarations in examples/<hw>/<q>.py
    calibrate  time the reference solutions; each question's time budget derives from them
    collect    submissions from nbgrader's exchange, or an LMS download (Canvas, Moodle, Gradescope, folders)
    grade      run every collected notebook in the sandbox and score it with the hidden checks
               (--jobs N workers; --shard i/N for one machine's share, then `merge`)
    formgrader grade written answers by hand in nbgrader's formgrader (localhost, token printed)
    feedback   write feedback for students (per-check report + nbgrader's notebook feedback)
    export     grades.csv, Gradescope-style results.json per submission, Canvas and Moodle import CSVs
    table      print the grade table
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .course import Course
from .errors import UsageError, did_you_mean, log_failure

console = Console()


def known_homework(course: Course, homework: str) -> str:
    """`homework` when the course has it; otherwise a one-line error naming those it has."""
    if course.has_homework(homework):
        return homework
    known = course.homeworks()
    raise UsageError(f"no homework {homework!r}{did_you_mean(homework, known)}; "
                     f"the course has: {', '.join(known) or 'none yet'}")


def say(message: str, style: str | None = None) -> None:
    """Print text as it is: names and messages may hold brackets rich would read as markup."""
    console.print(message, style=style, markup=False, highlight=False, soft_wrap=True)


def cmd_build(course: Course, args) -> int:
    import shutil

    import yaml

    from .figures import generate as generate_figures

    # The pages' pictures (book/figures/, git-ignored), drawn from public code and data; one that
    # cannot be drawn becomes a placeholder, so this never stops the build.
    generate_figures(course.root / "book" / "figures", log=lambda message: say(message, style="yellow"))
    script = Path(sys.executable).with_name("jupyter-book")  # installed next to this interpreter
    command = [str(script), "build", str(course.root), "--warningiserror", "--nitpick", "--keep-going"]
    command += ["--all"] if args.all else []
    output = Path(args.output).resolve() if args.output else course.root  # relative to where the user is
    command += ["--path-output", str(output)] if args.output else []
    build = output / "_build"
    if not args.with_solutions:
        # Sphinx never deletes a page: after a build with the solutions, start again from nothing.
        if (build / "html" / "solutions").exists() or (build / "html" / "_sources" / "solutions").exists():
            shutil.rmtree(build)
        return subprocess.call(command, cwd=course.root)
    # After the deadline: the master notebooks (rendered, not executed) as a "Solutions" part per
    # homework, through a toc and a config generated under _build/; _toc.yml and _config.yml stay as they are.
    toc = yaml.safe_load((course.root / "_toc.yml").read_text())
    config = yaml.safe_load((course.root / "_config.yml").read_text())
    config["exclude_patterns"] = [p for p in config.get("exclude_patterns", []) if p.strip("/") != "solutions"]
    solution_parts = []
    for part in toc.get("parts", []):
        masters = [f"solutions/{entry['file'].split('/', 1)[1].removesuffix('.ipynb')}"
                   for entry in part.get("chapters", []) if str(entry.get("file", "")).startswith("assignments/")]
        masters = [m for m in masters if (course.root / f"{m}.ipynb").exists()]
        leaks = [m for m in masters if "BEGIN HIDDEN TESTS" in (course.root / f"{m}.ipynb").read_text()]
        if leaks:
            raise UsageError(f"not publishing hidden tests: {', '.join(leaks)}")
        if masters:
            solution_parts.append({"caption": f"Solutions: {part.get('caption', '')}".rstrip(": "),
                                   "chapters": [{"file": m} for m in masters]})
    if not solution_parts:
        raise UsageError("--with-solutions: the book lists no homework page with a master notebook in solutions/")
    toc["parts"] = toc.get("parts", []) + solution_parts
    generated = build / "with-solutions"
    generated.mkdir(parents=True, exist_ok=True)
    (generated / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False, allow_unicode=True))
    (generated / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    command += ["--toc", str(generated / "_toc.yml"), "--config", str(generated / "_config.yml")]
    return subprocess.call(command, cwd=course.root)


def cmd_release(course: Course, args) -> int:
    from .release import ReleaseError, check_release, release
    from .verify import graded_problems

    homeworks = [known_homework(course, args.homework)] if args.homework else course.homeworks()
    try:
        if args.check:
            stale = {hw: check_release(course, hw) for hw in homeworks}
            stale = {hw: names for hw, names in stale.items() if names}
            for hw, names in stale.items():
                console.print(f"[red]assignments/{hw} is stale[/red]: {', '.join(names)} (run `make release`)")
            if not stale:
                console.print("assignments/ is up to date with solutions/")
            return 1 if stale else 0
        for hw in homeworks:
            console.print(f"released {release(course, hw)}", soft_wrap=True)
    except ReleaseError as err:
        console.print(f"[red]{err}[/red]", soft_wrap=True)
        return 1
    if args.verify:
        problems = [p for hw in homeworks for p in graded_problems(course, hw)]
        for problem in problems:
            console.print(f"[red]verify:[/red] {problem}", soft_wrap=True)
        console.print(f"verified {', '.join(homeworks)}: " + (f"{len(problems)} problem(s)" if problems else
                      "every example earns exactly its declared points"))
        return 1 if problems else 0
    return 0


def cmd_homeworks(course: Course, args) -> int:
    print(" ".join(course.homeworks()))  # plain, for scripts: the homeworks the book lists, in order
    return 0


def cmd_examples(course: Course, args) -> int:
    from .examples import generate

    out = Path(args.output) if args.output else course.root / "examples" / "submissions"
    written = generate(course, out, [known_homework(course, hw) for hw in args.homework] or None)
    console.print(f"wrote {len(written)} files into {out}", soft_wrap=True)
    return 0


def cmd_collect(course: Course, args) -> int:
    from datetime import datetime

    from .collect import collect

    source = Path(args.source).expanduser() if args.source else None
    if source is not None and not source.exists():
        raise UsageError(f"--from {args.source}: no such file or folder (give the LMS download: a folder or a .zip)")
    if args.roster and source is None:
        raise UsageError("--roster maps the names of an LMS download: give the download with --from")
    if args.roster and not Path(args.roster).is_file():
        raise UsageError(f"--roster {args.roster}: no such file (a CSV with a student_id column)")
    try:
        due = datetime.fromisoformat(args.due) if args.due else None
    except ValueError:
        raise UsageError(f"--due {args.due}: give a date and time like 2026-03-02 12:00") from None
    if source is None and not any(course.exchange.glob(f"*/inbound/*+{args.homework}+*")):
        raise UsageError(f"nothing of {args.homework} was submitted through nbgrader's exchange ({course.exchange}); "
                         f"to collect an LMS download: collect {args.homework} --from <folder or zip>")
    report = collect(course, args.homework, source, roster=args.roster, due=due)
    layout = f" ({report.layout} layout)" if report.layout else ""
    say(f"collected {len(report.collected)} notebooks from {len(report.students)} students{layout}")
    for reason in report.skipped:
        say(f"skipped {reason}", style="yellow")
    for student, why in sorted(report.late.items()):
        say(f"late: {student}: {why}", style="yellow")
    for note in report.notes:
        say(f"note: {note}")
    if report.other_homeworks:
        say(f"left {len(report.other_homeworks)} notebooks of {', '.join(report.homeworks_left)} for their own collect")
    if not report.collected:
        say(f"nothing of {args.homework} was collected: see the reasons above", style="red")
        return 1
    return 0


def cmd_grade(course: Course, args) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .grade import GradingOptions, default_jobs, grade_homework
    from .executor import sandbox_available
    from .merge import shard_course

    available, why = sandbox_available()
    if not available and not args.trusted_code_without_sandbox:
        console.print(f"[red]Refusing to run student code without the sandbox.[/red] {why}\n"
                      "Only for code you trust (e.g. your own reference solutions): "
                      "--trusted-code-without-sandbox.")
        return 2
    from .collect import submissions

    collected = [student for student, _ in submissions(course, args.homework)]
    if not collected:
        raise UsageError(f"no submissions of {args.homework} in {course.submitted}: run `collect {args.homework}` first")
    unknown = [s for s in args.student or [] if s not in collected]
    if unknown:
        raise UsageError(f"no submission of {args.homework} from {unknown[0]!r}{did_you_mean(unknown[0], collected)}; "
                         f"{len(collected)} students have one (see {course.submitted})")
    shard = None
    if args.shard:
        try:
            index, count = (int(x) for x in args.shard.split("/"))
            assert 1 <= index <= count
        except (ValueError, AssertionError):
            console.print(f"[red]--shard {args.shard}[/red]: give i/N with 1 <= i <= N, e.g. --shard 2/4")
            return 2
        shard = (index, count)
        course = shard_course(course, index, count)
    overrides = {"cell_timeout_s": args.cell_timeout, "notebook_timeout_s": args.notebook_timeout,
                 "memory_mb": args.memory_mb}
    options = GradingOptions(overrides={k: v for k, v in overrides.items() if v is not None},
                             unsandboxed_ok=args.trusted_code_without_sandbox, regrade=args.regrade,
                             jobs=args.jobs or default_jobs(course, args.homework))
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True)
    bar = progress.add_task("grading", total=None)

    def started(tasks):
        progress.update(bar, total=len(tasks), description=f"grading with {options.jobs} worker(s)")

    def report(grade):
        colour = "green" if grade.score == grade.max_score else "yellow"
        progress.console.print(f"  {grade.student:>18} {grade.notebook:<16} [{colour}]{grade.score:g}/"
                               f"{grade.max_score:g}[/{colour}]  {grade.status}: {grade.message}", soft_wrap=True)
        progress.update(bar, advance=1, description=f"last: {grade.student}/{grade.notebook}")

    with progress:
        graded = grade_homework(course, args.homework, options, students=args.student, on_graded=report,
                                shard=shard, on_start=started)
    where = f" into {course.workspace} (merge them with `merge {args.homework}`)" if shard else ""
    missing = sum(g.status == "missing" for g in graded)
    not_submitted = f" and recorded {missing} questions as not submitted" if missing else ""
    say(f"graded {len(graded) - missing} notebooks{not_submitted}{where} "
        f"(already graded ones are kept; --regrade to redo them)")
    return 0


def cmd_calibrate(course: Course, args) -> int:
    from .budgets import calibrate, derived_limits, runner_kind, timings_path

    measured = calibrate(course, args.homework, args.question or None, args.repeat)
    for question, timings in measured.items():
        limits = derived_limits(timings)
        console.print(f"  {question:<22} reference {timings['notebook_s']:6.1f} s -> budget "
                      f"{limits['notebook_timeout_s']:g} s per notebook, {limits['cell_timeout_s']:g} s per cell", soft_wrap=True)
    console.print(f"recorded {runner_kind()} timings in {timings_path(course, args.homework)}", soft_wrap=True)
    return 0


def cmd_merge(course: Course, args) -> int:
    from .merge import merge

    merged = merge(course, args.homework)
    if not merged:
        console.print(f"[red]no shard gradebooks under {course.workspace / 'shards'}[/red]: "
                      f"grade with --shard i/N first", soft_wrap=True)
        return 1
    for name, count in merged.items():
        console.print(f"merged {count} grades from shard {name}")
    return 0


def cmd_formgrader(course: Course, args) -> int:
    from .formgrader import serve

    return serve(course, port=args.port, open_browser=args.open)


def cmd_feedback(course: Course, args) -> int:
    from .feedback import generate_feedback

    written, waiting, nbgrader_problem = generate_feedback(course, args.homework, partial=args.partial)
    say(f"wrote feedback for {len(written)} submissions under {course.feedback}")
    if waiting:
        say(f"{len(waiting)} submissions have written answers no one has graded yet ({', '.join(waiting[:5])}"
            f"{', ...' if len(waiting) > 5 else ''}): their pages say so, and nbgrader's notebook feedback waits "
            f"until they are graded (formgrader), or pass --partial", style="yellow")
    if nbgrader_problem:
        say(nbgrader_problem, style="red")
        return 1
    return 0


def cmd_export(course: Course, args) -> int:
    from .export import export_csv, export_gradescope, export_lms, require_rows

    out = course.workspace
    people = {}
    if args.roster:   # a bad roster stops the export before anything is written
        from .lms_layouts import load_roster

        if not Path(args.roster).is_file():
            raise UsageError(f"--roster {args.roster}: no such file (a CSV with a student_id column)")
        people = load_roster(args.roster).people
    rows = require_rows(course, args.homework)   # read once, written in four formats
    written = [export_csv(course, Path(args.csv or out / "grades.csv"), args.homework, force=args.force, rows=rows)]
    results = export_gradescope(course, Path(args.gradescope or out / "gradescope"), args.homework, rows=rows)
    for kind in ("canvas", "moodle"):
        path = getattr(args, kind) or out / f"{kind}.csv"
        written.append(export_lms(course, Path(path), kind, args.homework, force=args.force, roster=people,
                                  rows=rows))
    say(f"wrote {', '.join(map(str, written))} and {len(results)} results.json files")
    pending = sum(r["written_pending"] for r in rows)
    if pending:
        say(f"{pending} written answers wait for a grader: the totals do not include them yet", style="yellow")
    return 0


def cmd_table(course: Course, args) -> int:
    from .export import require_rows

    rows = require_rows(course, args.homework)
    # Book order: homework by homework, each in its table-of-contents order.
    order = [(hw, q) for hw in course.homeworks() for q in course.questions(hw)]
    notebooks = sorted({r["notebook"] for r in rows},
                       key=lambda n: next((i for i, (_, q) in enumerate(order) if q == n), len(order)))
    table = Table(title=f"Scores{': ' + args.homework if args.homework else ''} (autograded + written answers graded by hand)")
    table.add_column("student")
    for nb in notebooks:
        table.add_column(nb, justify="right")
    table.add_column("total", justify="right")
    # Resource use, so an instructor sees which submissions strain the graders.
    table.add_column("time", justify="right")
    table.add_column("peak MB", justify="right")
    table.add_column("limits hit")
    by_student: dict[str, dict] = {}
    for row in rows:
        by_student.setdefault(row["student"], {})[row["notebook"]] = row
    for student, cells in sorted(by_student.items()):
        values = []
        for nb in notebooks:
            row = cells.get(nb)
            if row is None:
                values.append("")
                continue
            flag = "" if row["status"] == "graded" else f" ({row['status']})"
            pending = f" +{row['written_pending']} pending" if row["written_pending"] else ""
            took = f" {row['wall_s']:.0f}s" if row["wall_s"] else ""  # the time this question took
            values.append(f"{row['total_score']:g}/{row['total_max']:g}{pending}{flag}{took}")
        total = sum(r["total_score"] for r in cells.values())
        total_max = sum(r["total_max"] for r in cells.values())
        wall = sum(r["wall_s"] or 0 for r in cells.values())
        peak = max((r["peak_rss_mb"] or 0 for r in cells.values()), default=0)
        limits = ", ".join(sorted({f"{r['limit_hit']} ({nb})" for nb, r in cells.items() if r["limit_hit"]}))
        table.add_row(student, *values, f"{total:g}/{total_max:g}", f"{wall:.0f} s", f"{peak:.0f}", limits)
    # Wide enough for every column even when printed to a log or a pipe (rich assumes 80 there).
    Console(width=max(console.width, 170)).print(table)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    workspace_help = "where submissions, grades and feedback live (default: ./workspace)"
    p.add_argument("--workspace", help=workspace_help)
    # Accepted after the command too (`grade hw1 --workspace w`); SUPPRESS keeps an earlier one.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", default=argparse.SUPPRESS, help=workspace_help)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("build", parents=[common], help="build the course website")
    s.add_argument("--all", action="store_true", help="rebuild every page")
    s.add_argument("--output", help="folder for _build (default: the repository root)")
    s.add_argument("--with-solutions", action="store_true",
                   help="after the deadline: also publish the reference solutions (solutions/, not executed)")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("release", parents=[common], help="generate student versions with nbgrader")
    s.add_argument("homework", nargs="?")
    s.add_argument("--check", action="store_true", help="fail if assignments/ is stale")
    s.add_argument("--verify", action="store_true",
                   help="then grade the reference, the blank notebook and the declared examples")
    s.set_defaults(func=cmd_release)

    s = sub.add_parser("homeworks", parents=[common], help="print the course's homeworks (those the book lists), in order")
    s.set_defaults(func=cmd_homeworks)

    s = sub.add_parser("examples", parents=[common], help="regenerate the example submissions")
    s.add_argument("homework", nargs="*", help="homeworks (default: all)")
    s.add_argument("--output", help="folder (default: examples/submissions)")
    s.set_defaults(func=cmd_examples)

    s = sub.add_parser("collect", parents=[common], help="collect submissions")
    s.add_argument("homework")
    s.add_argument("--from", dest="source", help="folder or zip downloaded from Canvas, Moodle or Gradescope, "
                                                 "or laid out <student>/<hw>/<q>.ipynb (default: nbgrader's exchange)")
    s.add_argument("--roster", help="CSV with a student_id column and any of name, email, lms_id: "
                                    "maps the download's names to student ids")
    s.add_argument("--due", help="deadline (e.g. '2026-03-02 12:00', local time): later submissions are listed as late")
    s.set_defaults(func=cmd_collect)

    s = sub.add_parser("grade", parents=[common], help="grade collected submissions")
    s.add_argument("homework")
    s.add_argument("--student", action="append", help="only this student (repeatable)")
    s.add_argument("--regrade", action="store_true", help="grade again notebooks that already have a grade")
    # Unset: each question's budget (BUDGET in its check file), else the sandbox defaults.
    s.add_argument("--cell-timeout", type=float, help="seconds per cell, for every question")
    s.add_argument("--notebook-timeout", type=float, help="seconds per notebook, for every question")
    s.add_argument("--memory-mb", type=int, help="memory limit of a notebook's kernel, for every question")
    s.add_argument("--trusted-code-without-sandbox", action="store_true",
                   help="run notebooks without the sandbox: ONLY for code you trust")
    s.add_argument("--jobs", type=int, help="notebooks graded at once (default: what the cores and memory allow)")
    s.add_argument("--shard", help="i/N: grade only the i-th of N shares of the students, into "
                                   "<workspace>/shards/ (then `merge`)")
    s.set_defaults(func=cmd_grade)

    s = sub.add_parser("calibrate", parents=[common], help="time the reference solutions; question budgets derive from them")
    s.add_argument("homework")
    s.add_argument("--question", action="append", help="only this question (repeatable)")
    s.add_argument("--repeat", type=int, default=3, help="runs per question (the slowest counts)")
    s.set_defaults(func=cmd_calibrate)

    s = sub.add_parser("merge", parents=[common], help="fold shard gradebooks (grade --shard) into the course gradebook")
    s.add_argument("homework")
    s.set_defaults(func=cmd_merge)

    s = sub.add_parser("formgrader", parents=[common],
                       help="grade written answers by hand: nbgrader's formgrader on this workspace, on localhost")
    s.add_argument("--port", type=int, help="port (default: a free one)")
    s.add_argument("--open", action="store_true", help="open it in a browser")
    s.set_defaults(func=cmd_formgrader)

    s = sub.add_parser("feedback", parents=[common], help="write feedback for students")
    s.add_argument("homework")
    s.add_argument("--partial", action="store_true",
                   help="also write nbgrader's notebook feedback where written answers are not graded yet")
    s.set_defaults(func=cmd_feedback)

    s = sub.add_parser("export", parents=[common], help="export grades")
    s.add_argument("homework", nargs="?")
    s.add_argument("--csv", help="CSV path (default workspace/grades.csv)")
    s.add_argument("--gradescope", help="folder for results.json files (default workspace/gradescope)")
    s.add_argument("--canvas", help="Canvas gradebook import CSV (default workspace/canvas.csv)")
    s.add_argument("--moodle", help="Moodle grade import CSV (default workspace/moodle.csv)")
    s.add_argument("--force", action="store_true", help="replace a CSV even when it would lose rows it has")
    s.add_argument("--roster", help="the roster CSV of collect: fills the LMS ids, emails and names the "
                                    "Canvas and Moodle files are matched on")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("table", parents=[common], help="print the grade table")
    s.add_argument("homework", nargs="?")
    s.set_defaults(func=cmd_table)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    course = Course(workspace=Path(args.workspace).expanduser() if args.workspace else None)
    try:
        if isinstance(getattr(args, "homework", None), str):
            known_homework(course, args.homework)
        return args.func(course, args)
    except UsageError as err:
        say(f"error: {err}", style="red")
        return 2
    except KeyboardInterrupt:
        say("interrupted: run the same command again to go on where it stopped", style="yellow")
        return 130
    except Exception as err:  # the instructor gets one line; the traceback goes to the log
        log = log_failure(course.workspace, err)
        first_line = (str(err).strip().splitlines() or [""])[0][:300]
        say(f"error: {type(err).__name__}: {first_line} (details in {log})", style="red")
        return 1
