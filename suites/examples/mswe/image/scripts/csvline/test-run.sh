#!/bin/bash
set -e

cd /home/csvline
git apply --whitespace=nowarn /home/test.patch
bash /home/test.sh
