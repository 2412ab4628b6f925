"""The log and its masking: the tee to the pod log and `verification.log`, the pod log's own
writer thread, which values are secret and how they are masked, and masking Playwright's
reports once it has exited."""
