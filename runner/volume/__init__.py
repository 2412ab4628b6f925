"""The artifact volume: run directories and their names, attempts and the ledger, locks,
retention and the safe removal of old runs, and the space held back for the verdict."""
