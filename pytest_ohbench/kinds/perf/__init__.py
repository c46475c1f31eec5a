"""Performance tasks: correctness, then timings against base and the human's commit."""
