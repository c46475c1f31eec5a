"""Multi-SWE-bench rows: the agent's patch through the instance's fix-run.sh, the harness's rule."""
