import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh seeded host generator for each test."""
    return np.random.default_rng(1234)
