"""Child processes and their bounds: the one subprocess wrapper, the reaper that kills a tree
with the runner, the deadline and stop request, the wall-time bound on a blocking call, and
`body_regex` matched in a child that can be killed."""
