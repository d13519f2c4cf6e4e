"""Speed and accuracy benchmarks of the reference tree (never shipped to students): `python -m benchmarks.bench`,
`python -m benchmarks.bench_accuracy`."""
