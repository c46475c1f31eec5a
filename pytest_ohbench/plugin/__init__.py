"""Everything pytest calls: hooks and options, fixtures, collection, the run's controller and state."""
