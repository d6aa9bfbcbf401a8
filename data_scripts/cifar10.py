"""Fetch CIFAR-10 into the minigrad data folder ($MINIGRAD_DATA, default ~/.minigrad/data/cifar10/).

    python data_scripts/cifar10.py                # download from the canonical URL, verify sha256
    python data_scripts/cifar10.py --from PATH    # import a local copy instead (verified)
    python data_scripts/cifar10.py --help

Then: minigrad.data.load_cifar10(split="train").
"""
import sys
from pathlib import Path

try:
    from minigrad.data import fetch
except ImportError:  # run from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from minigrad.data import fetch

if __name__ == "__main__":
    sys.exit(fetch.main("cifar10"))
