"""Code that runs INSIDE the student's kernel, in the sandbox: untrusted surroundings.

It is sent to the kernel as source text (the package itself is not visible there), must not rely
on anything from the grader, and only writes data files that the trusted side parses defensively.
"""
