"""`make hub` starts the classroom hub; two learners log in and each runs a cell; then everything stops."""
import json
import os
import re
import stat
from urllib.parse import urlsplit

import pytest
import requests

from hubdriver import REPO, Hub, HubError, heavy, why_no_hub, why_not_isolated

pytestmark = heavy


@pytest.fixture(scope="module")
def hub():
    if why_no_hub():
        pytest.skip(why_no_hub())
    hub = Hub(via_make=True)
    try:
        hub.start(timeout=600)  # make may first build the C++ program of notebook 05 (cached after)
        for name in ("ana", "ben"):
            learner = hub.learner(name)
            learner.login()
            learner.start_server()
        yield hub
    finally:
        notes = hub.stop()
        hub.stop_notes = notes


@pytest.fixture(scope="module")
def first_cells(hub):
    results = {}
    for learner in hub.users[:2]:
        kernel = learner.open_notebook("notebooks/00_start_here.ipynb")
        try:
            results[learner.name] = kernel.execute(
                "import json, os, sys, torch\nimport helpers as H\nWORK = H.start('00_start_here')\n"
                "(WORK / 'mine.txt').write_text('kept')\n"
                "from ipykernel.connect import get_connection_info\nlink = json.loads(get_connection_info())\n"
                "print('FACTS' + json.dumps({'torch': torch.__version__, 'helpers': H.__file__, 'work': str(WORK),"
                " 'cwd': os.getcwd(), 'uid': os.getuid(), 'python': sys.executable,"
                " 'transport': link['transport'], 'sockets': link['ip']}))")
        finally:
            kernel.close()
    return results


def facts(result):
    text = "".join(o.get("text", "") for o in result["outputs"])
    assert result["error"] is None and "FACTS" in text, result
    return json.loads(text.split("FACTS", 1)[1].strip().splitlines()[0])


def test_two_learners_each_run_a_cell_with_the_course_kernel(hub, first_cells):
    for name in ("ana", "ben"):
        seen = facts(first_cells[name])
        assert seen["torch"].startswith("2.14.1")
        assert seen["helpers"].startswith(str(REPO / "helpers"))  # the shared, read-only helpers of this checkout
        home = hub.home_of(name)
        assert seen["cwd"] == str(home / "notebooks")  # the learner's own copy of the notebooks
        assert seen["work"].startswith(str(home / "work"))
        assert (home / "notebooks" / "00_start_here.ipynb").read_bytes() == (REPO / "notebooks" / "00_start_here.ipynb").read_bytes()


def test_kernels_talk_to_their_server_over_private_unix_sockets(hub, first_cells):
    # TCP ports picked by each server on its own can collide when a class opens notebooks together
    for name in ("ana", "ben"):
        seen = facts(first_cells[name])
        assert seen["transport"] == "ipc", seen
        folder = os.path.dirname(seen["sockets"])
        assert len(seen["sockets"]) + len("-99") <= 107  # a Unix socket's path limit
        assert os.stat(folder).st_uid == seen["uid"] and not os.stat(folder).st_mode & 0o077


def test_the_server_opens_on_notebook_00(hub):
    learner = hub.users[0]
    answer = learner.http.get(f"{learner.server}/", headers=learner._auth(), allow_redirects=False, timeout=60)
    assert answer.status_code in (301, 302)
    assert urlsplit(answer.headers["Location"]).path == f"/user/{learner.name}/lab/tree/notebooks/00_start_here.ipynb"
    # and JupyterLab is there to open it
    assert learner.http.get(f"{learner.server}/lab/tree/notebooks/00_start_here.ipynb", headers=learner._auth(), timeout=60).ok


def test_jupyterlab_neither_asks_about_news_nor_fetches_it(hub):
    learner = hub.users[0]
    page = learner.http.get(f"{learner.server}/lab", headers=learner._auth(), timeout=60).text
    config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>\s*(\{.*?\})\s*</script>', page, re.S).group(1))
    assert config["news"] == {"disabled": True}
    settings = learner.http.get(f"{learner.server}/lab/api/settings/@jupyterlab/apputils-extension:notification",
                                headers=learner._auth(), timeout=60).json()
    # the effective value: the learner's own setting if any, else the default, which overrides.json replaced
    effective = {key: settings["settings"].get(key, spec.get("default")) for key, spec in settings["schema"]["properties"].items()}
    assert effective["fetchNews"] == "false" and effective["checkForUpdates"] is False


def test_the_instructor_is_admin_and_the_culler_runs(hub):
    instructor = hub.learner("instructor", password=hub.admin_password)
    instructor.login()
    names = {u["name"] for u in requests.get(f"{hub.url}/hub/api/users", headers=instructor._auth(), timeout=60).json()}
    assert {"ana", "ben", "instructor"} <= names
    services = requests.get(f"{hub.url}/hub/api/services", headers=instructor._auth(), timeout=60).json()
    assert "idle-culler" in services
    # a learner is no admin, and nobody claims the instructor's name without the instructor's password
    assert requests.get(f"{hub.url}/hub/api/users", headers=hub.users[0]._auth(), timeout=60).status_code == 403
    with pytest.raises(HubError, match="login refused"):
        hub.learner("instructor", password="a-learner-guess").login()


def test_a_learner_name_cannot_be_taken_with_another_password(hub):
    with pytest.raises(HubError, match="login refused"):
        hub.learner("ana", password="not-anas-password").login()


def test_learners_have_their_own_accounts_and_private_homes(hub, first_cells):
    reason = why_not_isolated()
    if reason:
        pytest.skip(f"needs real system users (useradd): {reason}")
    uids = {facts(first_cells[name])["uid"] for name in ("ana", "ben")}
    assert len(uids) == 2 and 0 not in uids  # two different accounts, neither of them root
    for name in ("ana", "ben"):
        mode = hub.home_of(name).stat().st_mode
        assert stat.S_IMODE(mode) == 0o700
        assert (hub.home_of(name) / "work").stat().st_uid in uids


def test_stopping_make_hub_stops_everything(hub, first_cells):
    assert hub.proc.poll() is None
    work = facts(first_cells["ana"])["work"]
    notes = hub.stop(remove_files=False)
    assert hub.processes() == []
    assert notes == []
    assert (hub.home_of("ana") / "work").exists() and os.path.exists(os.path.join(work, "mine.txt"))  # kept
