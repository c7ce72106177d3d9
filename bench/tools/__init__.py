"""Scripts the suites run as subprocesses, each in its tool's own environment.

They import nothing from ``bench`` (a peer's venv does not have it), take their inputs
as command-line arguments, and print one JSON object as their last line of output.
"""
