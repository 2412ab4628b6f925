"""Proving that the target serves the Freight being verified, before any test runs.

Two ways, both checked inside the readiness gate (runner/readiness.py) so that a rollout in
progress is "not ready" (exit 4) rather than a test failure:

- Kubernetes (`workloads`, run by runner/proof.py): the workload's rollout is complete and
  every Ready pod runs the Freight's image, by digest when one is given, else by reference
  (`images`).
- HTTP (`versions`): a URL of the target says its version, which must be the Freight's.

Everything here is pure: values in, values out, nothing of the run. runner/proof.py reads
the workload through the Kubernetes API and judges it with `workloads`; runner/probe.py
judges the HTTP way with `versions`.
"""
