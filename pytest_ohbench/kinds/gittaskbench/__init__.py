"""GitTaskBench roots: config/, queries/, test_scripts/ and their test scripts' verdicts."""
