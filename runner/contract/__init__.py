"""The exit-code contract and the exceptions that carry it."""
