"""The one judge of test runs and its rules: results, skip rules, test infrastructure, log parsers."""
