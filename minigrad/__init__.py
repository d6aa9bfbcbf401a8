"""minigrad: a small NumPy/CuPy deep-learning engine with hand-written backward passes.

Modules:
    backend    chooses NumPy or CuPy (MINIGRAD_BACKEND) and converts arrays
    nn         layers (forward/backward), Sequential, losses
    optim      SGD, Momentum, Adam, learning-rate schedules
    trainer    the training loop (epochs, evaluation, checkpoints, update rules)
    gradcheck  finite-difference checks of any layer
    penalties  terms added to the loss (L1, L2, E/I weight separation), value + grad
    analysis   host-side measurements of trained networks (sparsity, response
               distributions, kernel similarity, weight sign shares)
    data       MNIST / Fashion-MNIST / CIFAR-10 / image-folder readers
"""
__version__ = "0.1.0"
