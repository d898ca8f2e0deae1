"""Code that runs INSIDE the sandbox: untrusted surroundings.

The harvest is sent to the student's kernel as source text and the fork server (zygote.py) runs from
a read-only copy (the package itself is not visible there); neither may rely on anything from the
grader, and the harvest only writes data files that the trusted side parses defensively.
"""
