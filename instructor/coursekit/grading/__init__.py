"""Grading: one submission, from its files to its results (checks, workers, models)."""
