"""Task kinds: one package each (its loader, check spec, checker, summary section), and the judge they share."""
