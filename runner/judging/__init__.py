"""Judging a run: JUnit and JSON results in, a verdict and its exit code, and the summary
line, summary.json and termination message out."""
