"""Proving that the target serves the Freight being verified, before any test runs.

Two ways, both checked inside the readiness gate (runner/readiness.py) so that a rollout in
progress is "not ready" (exit 4) rather than a test failure:

- Kubernetes (`workloads`): the workload's rollout is complete and every Ready pod runs the
  Freight's image, by digest when one is given, else by reference (`images`).
- HTTP (`versions`): a URL of the target says its version, which must be the Freight's.

`proof` turns the settings into those checks and their evidence. Pure modules (`images`,
`versions`, `workloads`) take values and return values; only `proof` talks to the API.
"""
