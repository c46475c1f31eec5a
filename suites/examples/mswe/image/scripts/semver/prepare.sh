#!/bin/bash
# Warm Go's build cache (the standard library compiles once, at image build time).
set -e
cd /home/semver
go vet ./... && go test -count=1 ./... >/dev/null
