"""The exit-code contract and the exceptions that carry it, and decoding the JSON others hand
the runner (`jsontext`: a malformed document, however deep, is a ValueError)."""
