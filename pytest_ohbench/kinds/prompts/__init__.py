"""Prompt folders (run_batch style): a .md prompt per task, an optional check script."""
