#!/bin/bash
# Compile the sources and tests, run them with the JUnit console launcher, print its JUnit XML
# report (what the log parser reads) and exit with the launcher's code.
set -e
cd /home/csvline
JUNIT=/usr/share/java/junit-platform-console-standalone.jar
rm -rf /tmp/csvline-classes /tmp/csvline-reports
mkdir -p /tmp/csvline-classes /tmp/csvline-reports
javac -nowarn -d /tmp/csvline-classes -cp "$JUNIT" $(find src -name '*.java' | sort)
status=0
java -jar "$JUNIT" --class-path /tmp/csvline-classes --scan-class-path --disable-banner \
  --details=summary --reports-dir /tmp/csvline-reports || status=$?
cat /tmp/csvline-reports/*.xml
exit "$status"
