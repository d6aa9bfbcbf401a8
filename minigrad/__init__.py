"""minigrad: a small NumPy/CuPy deep-learning engine with hand-written backward passes.

Modules:
    backend    chooses NumPy or CuPy (MINIGRAD_BACKEND) and converts arrays
    nn         layers (forward/backward), Sequential, losses
    optim      SGD, Momentum, Adam, learning-rate schedules
    trainer    the training loop (epochs, evaluation, checkpoints, update rules)
    gradcheck  finite-difference checks of any layer
    data       MNIST / Fashion-MNIST / CIFAR-10 / image-folder readers
"""
__version__ = "0.1.0"
