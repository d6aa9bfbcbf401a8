"""Fetch Fashion-MNIST into the minigrad data folder ($MINIGRAD_DATA, default ~/.minigrad/data/fashion-mnist/).

    python data_scripts/fashion_mnist.py                # download from the canonical URL, verify sha256
    python data_scripts/fashion_mnist.py --from PATH    # import a local copy instead (verified)
    python data_scripts/fashion_mnist.py --help

Then: minigrad.data.load_fashion_mnist(split="train").
"""
import sys
from pathlib import Path

try:
    from minigrad.data import fetch
except ImportError:  # run from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from minigrad.data import fetch

if __name__ == "__main__":
    sys.exit(fetch.main("fashion-mnist"))
