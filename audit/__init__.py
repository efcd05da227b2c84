"""Statistics, verifiers, the query ledger and budget, reports and the ``isotope`` CLI."""
