#!/usr/bin/env bash
# Placeholder for `npm run test:docker`: the container issue replaces it with a script that builds
# the runner image and runs the example suite inside it.
echo "test:docker is not ready yet: the container issue will finish container/test-docker.sh" >&2
exit 2
