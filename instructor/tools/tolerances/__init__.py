"""The measures of instructor/tools/measure_tolerances.py: one module per hidden check module, each with a
`measure_<topic>()` per group of TODOs returning {TODO id: (honest rows, bug rows)}."""
