"""genai's benchmarks: how fast training, sampling and learning are, measured honestly.

Run them with `python -m benchmarks.run` (see docs/benchmarks.md). Timing lives here,
never in the test suite: tests/test_benchmarks.py only checks that the code runs.
"""
