"""The domain, with neither pytest nor Docker: tasks, suites, records, outcomes, errors, model configs."""
