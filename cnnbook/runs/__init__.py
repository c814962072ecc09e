"""Stored runs: budgets, the reference runs the book shows (their specs, fingerprints and records),
``reproduce`` and its parallel jobs, and output folders owned by one run."""
