"""Where data sets live on disk."""
import os
from pathlib import Path

DEFAULT_DATA_DIR = "~/.minigrad/data"


def data_dir():
    """The data cache directory: ``$MINIGRAD_DATA``, or ``~/.minigrad/data`` when unset.

    Each data set has a folder inside it: ``mnist/``, ``fashion-mnist/``, ``cifar10/``.
    The directory is not created here; the download scripts create it.
    """
    return Path(os.environ.get("MINIGRAD_DATA") or DEFAULT_DATA_DIR).expanduser()
