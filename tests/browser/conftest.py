"""Let the browser tests import lab_server.py beside them."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
