"""SWE-bench rows: the agent's patch against FAIL_TO_PASS / PASS_TO_PASS, official rules where known."""
