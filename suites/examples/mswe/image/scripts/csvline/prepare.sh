#!/bin/bash
# Check that the base state compiles and runs (its tests pass) when the image is built.
set -e
bash /home/test.sh >/dev/null
