"""Load generation and benchmarks (not timed tests): scripts print ratios measured in one run."""
