"""Directory trees that anyone may have shaped (a test's output, a fetched repository, the
volume): walked and removed without recursion and without following a symlink."""
