#!/bin/bash
set -e

cd /home/csvline
git apply --whitespace=nowarn /home/test.patch /home/fix.patch
bash /home/test.sh
