"""The hub tests: the load test and the `make hub` test run real servers, so only `make test-hub` runs them."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

heavy = pytest.mark.skipif(not os.environ.get("TS_HUB_TESTS"),
                           reason="starts a real JupyterHub with learners' servers: run by `make test-hub`")
