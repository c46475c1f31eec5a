#!/bin/bash
set -e

cd /home/semver
go test -json -count=1 ./...
