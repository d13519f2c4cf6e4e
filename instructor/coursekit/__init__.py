"""coursekit: cut the student release, validate it, grade submissions, run the notebooks."""
