"""execution-metadata.json is rebuilt from what each phase learned (`ExecutionMetadata.learned`):
a fact under a name that is no field is refused, never dropped."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

import pytest

from runner.fetch import Provenance
from runner.metadata import ExecutionMetadata


def _metadata() -> ExecutionMetadata:
    return ExecutionMetadata(
        run_name="local-1",
        identity_source="local",
        identity_original="",
        promotion=None,
        analysis_run_uid=None,
        freight_image=None,
        freight_commit=None,
        stage=None,
        project=None,
        kubernetes_pod_name=None,
        kubernetes_job_name=None,
        kubernetes_namespace=None,
        kubernetes_node_name=None,
        is_kargo_execution=False,
        attempt=1,
        retry_attempt=False,
        previous_attempts=[],
        pid=1,
        started_at=datetime(2026, 12, 1, tzinfo=UTC),
    )


def test_a_misspelled_fact_is_refused() -> None:
    with pytest.raises(TypeError, match="no field tests_comit"):
        _metadata().learned(tests_comit="0" * 40)


def test_what_the_fetch_phase_learns_is_kept() -> None:
    """Every field of the fetch's provenance is a field of the metadata (the run passes
    `asdict(Provenance.of(fetched))`), and the values arrive."""
    provenance = Provenance("https://git.example.com/t.git", "main", "a" * 40, 1.5, 2048)
    learned = _metadata().learned(**asdict(provenance))
    assert learned.tests_commit == "a" * 40 and learned.tests_fetch_bytes == 2048
    assert learned.tests_provenance() == {
        "tests_repo": "https://git.example.com/t.git",
        "tests_revision": "main",
        "tests_commit": "a" * 40,
    }
