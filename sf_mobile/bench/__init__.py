"""sf-bench: run an exported folder's graphs on every backend, prove parity, measure latency."""
