"""Benchmarks for leanloop against its peers (``make bench``; not part of ``make test``).

Each suite runs every tool as a subprocess and measures it from outside: wall time
and peak resident memory (``os.wait4`` gives the child's ``ru_maxrss``). Peers run in
their own virtual environments under ``bench/.venvs/`` (created on first use from the
package registry); generated data goes to ``bench/data/``; figures are printed as
markdown tables and written as JSON to ``bench/results/``.

Suites: ``drift`` (issue 3), ``cbpe`` and ``feedback`` (issue 4), ``serve`` (issue 6),
``cycle`` (issue 5). ``python -m bench --help`` lists the options.
"""
