"""CS231n-style course package: numpy layers, classifiers, optimizers, Solver, data and plotting helpers."""
