"""The values lint works with: a rule (what it checks and why), and a finding (where it fired)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

FACTS_DOC = "docs/platform-facts.md"


class Severity(enum.StrEnum):
    # error: the verification can pass when it should fail, or never runs at all.
    ERROR = "error"
    # warning: fragile or misleading; it works today and breaks or misleads later.
    WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    """One check. `why` says what goes wrong, `fact` the upstream behaviour behind it (the
    section of docs/platform-facts.md that gives the source), `fix` what to write instead."""

    id: str
    severity: Severity
    why: str
    fact: str
    fix: str
    facts_section: str
    facts_doc: str = FACTS_DOC
    # Not empty when the rule enforces this project's policy rather than a behaviour that always
    # breaks: what a team gives up by `--ignore`-ing it (e.g. Kargo's own docs use backoffLimit 1).
    policy: str = ""

    @property
    def facts_ref(self) -> str:
        return f"{self.facts_doc}#{self.facts_section}"


@dataclass(frozen=True, order=True)
class Finding:
    """One rule firing at one line of one source."""

    source: str
    line: int
    rule_id: str
    message: str
    severity: Severity
    # The file a code-scanning UI should open, and whether `line` counts in kustomize's rendered
    # output rather than in that file (a `-k DIR` finding).
    uri: str
    rendered: bool = False
