"""Course scale: validating the course's grading, batches, reports, the gradebook, Gradescope."""
