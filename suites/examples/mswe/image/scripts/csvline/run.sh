#!/bin/bash
set -e

cd /home/csvline
bash /home/test.sh
