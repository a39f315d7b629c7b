"""The benchmarks of `make bench`, one module per kind; bench/run.py is the command line that runs them.

Each benchmark is one function ``(Bench, Options) -> lines`` (bench/benchmarks/common.py ``Benchmark``):
it measures, then returns its section (a heading, what was run, one table from ``bench.stats.table``).
"""
