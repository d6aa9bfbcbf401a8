"""train_val_split: the validation set is carved out of the training data, disjoint and seeded."""
import numpy as np
import pytest

from minigrad.data import train_val_split


def test_split_is_disjoint_complete_and_seeded():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    d = train_val_split(X, y, 3, rng=0)
    assert len(d["X_val"]) == 3 and len(d["X_train"]) == 7
    assert sorted(np.concatenate([d["y_train"], d["y_val"]]).tolist()) == list(range(10))
    np.testing.assert_array_equal(d["X_train"][:, 0], 2 * d["y_train"])          # rows stay with their labels
    again = train_val_split(X, y, 3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(again["y_val"], d["y_val"])
    assert len(train_val_split(X, y, 0.25, rng=1)["y_val"]) == 2                  # a fraction, rounded (2.5 -> 2)


def test_split_draws_n_train_then_n_val_from_one_permutation():
    """The convention the CIFAR lessons' measured numbers were made with: permutation[:n_train]
    trains, the next n_val validate, the rest is left out."""
    X, y = np.arange(50).reshape(25, 2), np.arange(25)
    d = train_val_split(X, y, 5, rng=3, n_train=12)
    order = np.random.default_rng(3).permutation(25)
    np.testing.assert_array_equal(d["y_train"], order[:12])
    np.testing.assert_array_equal(d["y_val"], order[12:17])


@pytest.mark.parametrize("n_val,n_train", [(0, None), (10, None), (-1, None), (1.0, None), (0.0, None),
                                           (2.5, None), (True, None), ("3", None), (3, 8), (3, 0), (3, 2.0)])
def test_split_refuses_sizes_that_leave_a_part_empty_or_overlap(n_val, n_train):
    with pytest.raises(ValueError, match="train_val_split: "):
        train_val_split(np.zeros((10, 2)), np.zeros(10), n_val, n_train=n_train)


def test_split_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="10 inputs but 9 targets"):
        train_val_split(np.zeros((10, 2)), np.zeros(9), 2)
