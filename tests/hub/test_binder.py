"""The Binder / Zero to JupyterHub image: repo2docker's recipe from binder/ installs the pinned course and links the helpers."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REPO2DOCKER = Path(sys.executable).parent / "jupyter-repo2docker"


@pytest.fixture(scope="module")
def dockerfile():
    if not REPO2DOCKER.exists():
        pytest.skip("jupyter-repo2docker is not installed (requirements.txt pins it; `make venv`)")
    # --no-build: print the recipe only; no Docker daemon, no network
    done = subprocess.run([str(REPO2DOCKER), "--no-build", "--debug", "--user-id", "1000", "--user-name", "jovyan",
                           "--target-repo-dir", "/srv/workbook", str(REPO)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout + done.stderr
    assert "FROM " in text
    return text


def test_the_image_reads_binder_and_the_course_python(dockerfile):
    assert "python=3.11" in dockerfile  # binder/runtime.txt
    assert re.search(r'pip install --no-cache-dir -r "binder/requirements\.txt"', dockerfile)
    # the repo is copied in before pip runs, so binder/requirements.txt can include ../requirements.txt
    assert dockerfile.index("COPY --chown=1000:1000 src/ ${REPO_DIR}/") < dockerfile.index('-r "binder/requirements.txt"')
    assert "ARG REPO_DIR=" in dockerfile and "WORKDIR ${REPO_DIR}" in dockerfile  # --target-repo-dir is a build argument


def test_binder_requirements_are_the_pinned_course(dockerfile):
    lines = [l.strip() for l in (REPO / "binder" / "requirements.txt").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert "-r ../requirements.txt" in lines and "-r ../requirements-shipping.txt" in lines  # 10 needs ExecuTorch
    assert "-c ../constraints.txt" in lines  # the indirect dependencies at the versions CI tested
    assert all(l.startswith(("-r ", "-c ", "--extra-index-url ")) for l in lines), "pins belong in requirements.txt alone"
    pins = [l.split("#")[0].strip() for l in (REPO / "requirements.txt").read_text().splitlines() if "==" in l.split("#")[0]]
    assert any(p.startswith("torch==") for p in pins) and any(p.startswith("jupyterhub==") for p in pins)
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.+]+", p) for p in pins), pins


def test_post_build_links_the_helpers_and_builds_ahead(dockerfile):
    assert "RUN ./binder/postBuild" in dockerfile
    post_build = REPO / "binder" / "postBuild"
    assert post_build.stat().st_mode & 0o111
    text = post_build.read_text()
    assert "python scripts/link_helpers.py" in text  # `import helpers` from any folder
    assert "hub/lab_settings.py" in text  # no news question in the image's JupyterLab
    assert "H.build_all_cpp()" in text  # learners cannot write the repo: 05's and 10's programs are built in the image
    assert "python scripts/ship_ahead.py" in text  # and 10's AOTInductor packages and .pte files, as `make aoti` does
    for script in ("scripts/link_helpers.py", "hub/lab_settings.py", "scripts/ship_ahead.py"):
        assert (REPO / script).exists()


def test_the_image_leaves_out_local_builds():
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv/", "build/", "work/", "cpp/build/"} <= set(ignored)
