"""A two-layer fully-connected network written out in plain numpy (assignment 1)."""

import numpy as np


class TwoLayerNet:
    """
    A two-layer fully-connected neural network. The net has an input dimension of
    N, a hidden layer dimension of H, and performs classification over C classes.
    We train the network with a softmax loss function and L2 regularization on the
    weight matrices. The network uses a ReLU nonlinearity after the first fully
    connected layer.

    In other words, the network has the following architecture:

    input - fully connected layer - ReLU - fully connected layer - softmax

    The outputs of the second fully-connected layer are the scores for each class.
    """

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        """
        Initialize the model. Weights are initialized to small random values and
        biases are initialized to zero. Weights and biases are stored in the
        variable self.params, which is a dictionary with the following keys:

        W1: First layer weights; has shape (D, H)
        b1: First layer biases; has shape (H,)
        W2: Second layer weights; has shape (H, C)
        b2: Second layer biases; has shape (C,)

        Inputs:
        - input_size: The dimension D of the input data.
        - hidden_size: The number of neurons H in the hidden layer.
        - output_size: The number of classes C.
        - std: Standard deviation of the Gaussian the weights are drawn from.
        """
        self.params = {}
        self.params["W1"] = std * np.random.randn(input_size, hidden_size)
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = std * np.random.randn(hidden_size, output_size)
        self.params["b2"] = np.zeros(output_size)

    def _flatten(self, X):
        """Return X as an (N, D) matrix, checking D against the first layer's weights."""
        X = np.asarray(X)
        D = self.params["W1"].shape[0]
        if X.ndim < 2 or int(np.prod(X.shape[1:])) != D:
            raise ValueError(
                f"X has shape {X.shape} but W1 has shape {self.params['W1'].shape}: reshape X to "
                f"(N, {D}), or build the net with input_size={int(np.prod(X.shape[1:]))}"
            )
        return X.reshape(X.shape[0], D)

    def _check_labels(self, y, N):
        """Raise ValueError unless y holds N integer labels in [0, C)."""
        y = np.asarray(y)
        C = self.params["W2"].shape[1]
        if y.shape != (N,) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"y must be an integer array of shape ({N},) to match X, got {y.dtype} {y.shape}; "
                "pass one class index per example"
            )
        if N and (y.min() < 0 or y.max() >= C):
            raise ValueError(
                f"labels must lie in [0, {C}) for a net with {C} classes, got values in "
                f"[{y.min()}, {y.max()}]; build the net with output_size={int(y.max()) + 1} or fix y"
            )
        return y

    def loss(self, X, y=None, reg=0.0):
        """
        Compute the loss and gradients for a two layer fully connected neural
        network.

        Inputs:
        - X: Input data of shape (N, D), or (N, C, H, W) which is flattened. Each
          X[i] is a training sample.
        - y: Vector of training labels of shape (N,). y[i] is the label for X[i],
          and each y[i] is an integer in the range 0 <= y[i] < C. This parameter
          is optional; if it is not passed then we only return scores, and if it
          is passed then we instead return the loss and gradients.
        - reg: Regularization strength.

        Returns:
        If y is None, return a matrix scores of shape (N, C) where scores[i, c] is
        the score for class c on input X[i].

        If y is not None, instead return a tuple of:
        - loss: Loss (data loss and regularization loss) for this batch of training
          samples.
        - grads: Dictionary mapping parameter names to gradients of those parameters
          with respect to the loss function; has the same keys as self.params.

        loss leaves X and self.params as they were (train updates the weights).
        """
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        X = self._flatten(X)
        N, D = X.shape
        if y is not None:
            y = self._check_labels(y, N)

        scores = None
        #############################################################################
        # TODO: Perform the forward pass, computing the class scores for the input. #
        # Store the result in the scores variable, which should be an array of      #
        # shape (N, C).                                                             #
        #############################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        hidden = np.maximum(0, X @ W1 + b1)
        scores = hidden @ W2 + b2

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        #############################################################################
        #                              END OF YOUR CODE                             #
        #############################################################################

        if y is None:
            return scores

        loss = None
        #############################################################################
        # TODO: Finish the forward pass, and compute the loss. This should include  #
        # both the data loss and L2 regularization for W1 and W2. Store the result  #
        # in the variable loss, which should be a scalar. Use the Softmax           #
        # classifier loss. Use reg * np.sum(W * W) (no factor 0.5) for each W.      #
        #############################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        # Subtracting the row maximum leaves the softmax unchanged but keeps exp() from overflowing.
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(N), y].mean() + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        #############################################################################
        #                              END OF YOUR CODE                             #
        #############################################################################

        grads = {}
        #############################################################################
        # TODO: Compute the backward pass, computing the derivatives of the weights #
        # and biases. Store the results in the grads dictionary. For example,       #
        # grads['W1'] should store the gradient on W1, and be a matrix of same size #
        #############################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        dscores = np.exp(log_probs)
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads["W2"] = hidden.T @ dscores + 2 * reg * W2
        grads["b2"] = dscores.sum(axis=0)
        dhidden = dscores @ W2.T
        dhidden[hidden <= 0] = 0
        grads["W1"] = X.T @ dhidden + 2 * reg * W1
        grads["b1"] = dhidden.sum(axis=0)

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        #############################################################################
        #                              END OF YOUR CODE                             #
        #############################################################################

        return loss, grads

    def train(
        self,
        X,
        y,
        X_val,
        y_val,
        learning_rate=1e-3,
        learning_rate_decay=0.95,
        reg=5e-6,
        num_iters=100,
        batch_size=200,
        verbose=False,
        lr_schedule="step",
    ):
        """
        Train this neural network using stochastic gradient descent.

        Inputs:
        - X: A numpy array of shape (N, D) (or (N, C, H, W)) giving training data.
        - y: A numpy array of shape (N,) giving training labels; y[i] = c means that
          X[i] has label c, where 0 <= c < C.
        - X_val: A numpy array of shape (N_val, D) giving validation data.
        - y_val: A numpy array of shape (N_val,) giving validation labels.
        - learning_rate: Scalar giving learning rate for optimization.
        - learning_rate_decay: Scalar giving factor used to decay the learning rate
          after each epoch (lr_schedule='step').
        - reg: Scalar giving regularization strength.
        - num_iters: Number of steps to take when optimizing.
        - batch_size: Number of training examples to use per step, sampled with
          replacement (so it may exceed the number of training examples).
        - verbose: boolean; if true print progress during optimization.
        - lr_schedule: 'step' (default, the course's): multiply the rate by
          learning_rate_decay after every epoch. 'linear': iteration t of num_iters
          runs at learning_rate * (1 - t / num_iters), whatever the size of the
          training set; learning_rate_decay is then unused. A per-epoch decay
          depends on how many epochs num_iters makes: 1000 iterations of 200 are
          4 epochs of CIFAR-10 (rate x 0.81 with 0.95) but 50 epochs of a 4000-image
          subset (rate x 0.08), which stops learning early.

        Returns:
        A dictionary with keys loss_history (the loss at every iteration),
        train_acc_history and val_acc_history (the accuracies at every epoch).
        """
        if lr_schedule not in ("step", "linear"):
            raise ValueError(
                f"lr_schedule must be 'step' (decay after every epoch) or 'linear' (falls to zero "
                f"over num_iters), got {lr_schedule!r}"
            )
        X = self._flatten(X)
        num_train = X.shape[0]
        y = self._check_labels(y, num_train)
        iterations_per_epoch = max(num_train // batch_size, 1)
        base_learning_rate = learning_rate

        loss_history = []
        train_acc_history = []
        val_acc_history = []

        for it in range(num_iters):
            X_batch = None
            y_batch = None

            #########################################################################
            # TODO: Create a random minibatch of training data and labels, storing  #
            # them in X_batch and y_batch respectively. Sample with replacement     #
            # using np.random.choice.                                               #
            #########################################################################
            # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

            batch_idx = np.random.choice(num_train, batch_size, replace=True)
            X_batch = X[batch_idx]
            y_batch = y[batch_idx]

            # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
            #########################################################################
            #                             END OF YOUR CODE                          #
            #########################################################################

            loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
            loss_history.append(loss)
            if lr_schedule == "linear":
                learning_rate = base_learning_rate * (1 - it / num_iters)

            #########################################################################
            # TODO: Use the gradients in the grads dictionary to update the         #
            # parameters of the network (stored in the dictionary self.params)      #
            # using stochastic gradient descent. You'll need to use the gradients   #
            # stored in the grads dictionary defined above.                         #
            #########################################################################
            # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

            for name, grad in grads.items():
                self.params[name] = self.params[name] - learning_rate * grad

            # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
            #########################################################################
            #                             END OF YOUR CODE                          #
            #########################################################################

            if verbose and it % 100 == 0:
                print(f"iteration {it} / {num_iters}: loss {loss:f}")

            if it % iterations_per_epoch == 0:
                train_acc_history.append(float((self.predict(X_batch) == y_batch).mean()))
                val_acc_history.append(float((self.predict(X_val) == y_val).mean()))
                if lr_schedule == "step":
                    learning_rate *= learning_rate_decay

        return {
            "loss_history": loss_history,
            "train_acc_history": train_acc_history,
            "val_acc_history": val_acc_history,
        }

    def predict(self, X):
        """
        Use the trained weights of this two-layer network to predict labels for
        data points. For each data point we predict scores for each of the C
        classes, and assign each data point to the class with the highest score.

        Inputs:
        - X: A numpy array of shape (N, D) (or (N, C, H, W)) giving N D-dimensional
          data points to classify.

        Returns:
        - y_pred: A numpy array of shape (N,) giving predicted labels for each of
          the elements of X. For all i, y_pred[i] = c means that X[i] is predicted
          to have class c, where 0 <= c < C.
        """
        X = self._flatten(X)
        y_pred = np.zeros(X.shape[0], dtype=np.int64)

        ###########################################################################
        # TODO: Implement this function; it should be VERY simple!                #
        ###########################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        y_pred = np.argmax(self.loss(X), axis=1)

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        ###########################################################################
        #                              END OF YOUR CODE                           #
        ###########################################################################

        return y_pred
