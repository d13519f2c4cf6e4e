"""Classifiers: the assignment-1 TwoLayerNet (neural_net), fully-connected nets (fc_net) and conv nets (cnn)."""
