#!/bin/bash
set -e

cd /home/semver
git apply --whitespace=nowarn /home/test.patch /home/fix.patch
go test -json -count=1 ./...
