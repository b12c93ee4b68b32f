"""The hub tests import their driver (hubdriver.py, loadtest.py) from this folder."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
