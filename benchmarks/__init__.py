"""Benchmark suites and their recorded results, installed as `sf_mobile.benchmarks`.

Real-size runs live here, never in the default test run. Every recorded figure carries the
command and date that produced it.
"""
