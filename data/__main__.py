"""Command line: ``python -m data info | fetch [NAMES] | student-cache DEST [--names NAMES]``.

``fetch`` downloads (or reads from the mirror), verifies and decodes MNIST and CIFAR-10 into the
cache, including the grader's held-out split, so a grader can later run with
COURSE_DATA_OFFLINE=1. ``student-cache`` writes the read-only cache for student sandboxes.
"""

from __future__ import annotations

import argparse
import sys

from . import brain_mri, cache, config, store, student
from .errors import DataUnavailableError


def cmd_info(_args) -> int:
    root = config.cache_dir()
    print(f"profile : {store.profile()}")
    print(f"mirror  : {config.mirror_dir() or '-'}   ({config.ENV_MIRROR})")
    print(f"cache   : {root}   ({config.ENV_CACHE})")
    print(f"offline : {config.offline()}   ({config.ENV_OFFLINE})")
    entries = sorted((root / cache.SUBDIR).glob("*.npz"))
    for path in entries:
        print(f"  {path.name}  {path.stat().st_size / 1e6:.1f} MB")
    return 0


def cmd_fetch(args) -> int:
    failed = 0
    for name in args.names:
        try:
            if name == "brain_mri":
                print(f"brain_mri: found at {brain_mri.brain_mri_directory()}")
                continue
            spec = student.SPECS[name]
            for part in ("public", "heldout"):
                store.load_part(spec, part)
            print(f"{name}: cached ({store.profile()} profile) in {config.cache_dir() / cache.SUBDIR}")
        except DataUnavailableError as exc:
            failed += 1
            print(f"{name}: {exc}", file=sys.stderr)
    return 1 if failed else 0


def cmd_student_cache(args) -> int:
    dest = student.prepare_student_cache(args.dest, names=tuple(args.names))
    print(f"student cache ready in {dest} (profile {store.profile()}); held-out data not included")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="show profile, mirror, cache and cached arrays").set_defaults(func=cmd_info)
    fetch = sub.add_parser("fetch", help="download/verify/decode datasets into the cache")
    fetch.add_argument("names", nargs="*", help=f"any of {', '.join(student.STUDENT_NAMES)} (default: mnist cifar10)")
    fetch.set_defaults(func=cmd_fetch)
    prep = sub.add_parser("student-cache", help="write the read-only cache for student sandboxes")
    prep.add_argument("dest")
    prep.add_argument("--names", nargs="+", default=["mnist"], choices=student.STUDENT_NAMES)
    prep.set_defaults(func=cmd_student_cache)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        args.names = args.names or ["mnist", "cifar10"]
        unknown = sorted(set(args.names) - set(student.STUDENT_NAMES))
        if unknown:
            parser.error(f"unknown dataset(s) {unknown}; choose from {student.STUDENT_NAMES}")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
