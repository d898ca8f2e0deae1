"""The data that crosses the trust boundary: the harvest request the grader writes for the kernel,
and the harvest results the kernel writes back (parsed as untrusted input)."""
