"""Command-line tools: the offline CLI (report, compare, ...), prune, the perf-record maker."""
