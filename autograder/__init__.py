"""The course's instructor pipeline: release, collect, grade, feedback, export (see cli.py)."""
import sys

# jsonschema (under nbformat, which every command and grading worker imports) builds some 35 Earley
# parsers from rfc3987-syntax's grammar when it is imported, for the `iri` string formats that no
# notebook or Jupyter schema uses: 1.5 s of every process start (jsonschema issue #1428). Without
# the module, jsonschema leaves those two formats unchecked and validates everything else as before.
sys.modules.setdefault("rfc3987_syntax", None)
