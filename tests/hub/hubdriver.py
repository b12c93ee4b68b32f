"""Drives a real classroom hub (hub/jupyterhub_config.py) for the tests: start it, be a learner, stop everything.

A learner logs in through the hub's REST API (a token asked for with name + password), starts
their server, and runs notebook cells through jupyter_server's kernel protocol (REST + websocket),
exactly as JupyterLab would. Everything this module starts carries one run mark in its environment,
so `Hub.stop()` finds and ends every process of the run (hub, proxy, servers, kernels) by id.
"""
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest
import requests
import websocket

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"
JUPYTERHUB = REPO / ".venv" / "bin" / "jupyterhub"
PROXY = REPO / ".venv" / "hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
sys.path.insert(0, str(REPO / "hub"))
from workshop import running_as_root, stand_in_base, unreadable_for_others  # noqa: E402

# The load test and the `make hub` test run real servers: only `make test-hub` runs them.
heavy = pytest.mark.skipif(not os.environ.get("TS_HUB_TESTS"),
                           reason="starts a real JupyterHub with learners' servers: run by `make test-hub`")

# Bounds on every wait (kernel handshake, one cell, a server start): generous, since a busy machine is slow,
# and finite, so a stuck test ends by itself.
WAIT_S = 600
HTTP_S = 300  # one HTTP request (a login hashes a password; a session starts a kernel)

# Run first and last in every kernel: the kernel's own CPU time and peak memory (ru_maxrss is KiB on Linux).
PROBE = ("import json as _j, resource as _r\n"
         "_s, _c = _r.getrusage(_r.RUSAGE_SELF), _r.getrusage(_r.RUSAGE_CHILDREN)\n"
         "print('PROBE' + _j.dumps({'cpu_s': _s.ru_utime + _s.ru_stime, 'maxrss_kb': _s.ru_maxrss,"
         " 'children_cpu_s': _c.ru_utime + _c.ru_stime}))")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def why_not_isolated() -> str:
    """Empty when learners can get real accounts here; else the reason they cannot."""
    if not running_as_root():
        return "not root: learners cannot get their own system accounts (useradd), so they share yours"
    if not shutil.which("useradd"):
        return "no useradd on this machine"
    blocked = unreadable_for_others(REPO) + unreadable_for_others(PYTHON.parent.parent)
    if blocked:
        return f"the repo is not readable by other accounts ({', '.join(sorted(set(blocked)))})"
    base = Path(os.path.realpath(PYTHON)).parent.parent
    if unreadable_for_others(base) and stand_in_base() is None:
        return f"learners cannot run the venv's Python ({base}) and no readable python3.X of its version stands in"
    return ""


def why_no_hub() -> str:
    """Empty when a hub can run here; else why not (as root, learners' accounts must be able to read the repo)."""
    reason = why_not_isolated()
    if running_as_root() and reason:
        return f"as root the hub runs learners under their own accounts, but {reason}"
    return ""


class HubError(RuntimeError):
    pass


class Hub:
    """A hub on free 127.0.0.1 ports, with its state and learners' homes in a temporary folder."""

    def __init__(self, via_make: bool = False, cull_idle: int = 3600):
        self.mark = f"tswtest-{uuid.uuid4().hex[:10]}"
        self.isolated = not why_not_isolated()
        self.prefix = f"t{uuid.uuid4().hex[:5]}-"  # system accounts of this run only
        self.tmp = Path(tempfile.mkdtemp(prefix="tsw-hub-"))
        self.tmp.chmod(0o711)  # learners' homes live below: they may pass through, not list
        (self.tmp / "homes").mkdir(mode=0o711)
        self.port, self.api_port, self.proxy_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_password = uuid.uuid4().hex + uuid.uuid4().hex
        self.env = {**os.environ, "HUB_RUN_MARK": self.mark, "HUB_IP": "127.0.0.1", "HUB_PORT": str(self.port),
                    "HUB_API_PORT": str(self.api_port), "HUB_PROXY_API_PORT": str(self.proxy_port),
                    "HUB_STATE": str(self.tmp / "state"), "HUB_HOMES": str(self.tmp / "homes"),
                    "HUB_USER_PREFIX": self.prefix, "HUB_ADMIN_PASSWORD": self.admin_password,
                    "HUB_CULL_IDLE": str(cull_idle)}
        self.env.pop("HUB_LEARNERS", None)
        self.cmd = (["make", "-s", "hub"] if via_make else [str(JUPYTERHUB), "-f", str(REPO / "hub" / "jupyterhub_config.py")])
        self.log_path = self.tmp / "hub.log"
        self.proc = None
        self.users = []

    def start(self, timeout: float = 240) -> "Hub":
        self.started_at = time.monotonic()
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HubError(f"the hub exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=5).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(1)
        raise HubError(f"the hub did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000, about: str = None) -> str:
        """The end of the hub's log; with ``about``, only the lines naming that learner, without the API polls."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        if about:  # the hub's lines and (hub/learner_start.py's log format) the learner's own server's
            poll = f"200 GET /hub/api/users/{about} "
            lines = [line for line in lines if about in line and poll not in line]
        return "\n".join(lines)[-chars:]

    def keep_log(self, path: Path) -> None:
        """Copy the hub's log to ``path`` (before ``stop`` removes this run's folder)."""
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            shutil.copyfile(self.log_path, tmp)
            os.replace(tmp, path)

    def processes(self) -> list:
        """Every live process of this run (found by the run mark in its environment)."""
        found = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if proc.environ().get("HUB_RUN_MARK") == self.mark:
                    found.append(proc)
            except (psutil.Error, OSError):
                continue
        return found

    def stop(self, remove_files: bool = True) -> list:
        """Stop the servers, the hub and the proxy; end any process of this run still alive.

        With ``remove_files``, also remove this run's accounts and its temporary folder (learners' homes included).
        """
        notes = []
        for user in self.users if self.proc is not None and self.proc.poll() is None else []:
            try:
                user.stop_server()
            except Exception as exc:  # keep stopping the rest
                notes.append(f"stopping {user.name}'s server: {exc}")
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                notes.append("the hub ignored SIGTERM for 60 s")
        left = self.processes()
        # a process may end on its own once its server has gone: the waiting torch process looks each second
        _, left = psutil.wait_procs(left, timeout=5)
        for proc in left:
            notes.append(f"left running, ended: {proc.pid} {' '.join(proc.cmdline()[:3]) if proc.is_running() else ''}")
            try:
                proc.terminate()
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(left, timeout=10)
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if remove_files and self.isolated:
            for user in self.users:
                try:
                    uid = pwd.getpwnam(user.system_name).pw_uid
                except KeyError:
                    continue
                # the kernel sockets' folder learner_start.py made in /tmp, as the homes here are deep
                runtime = Path(tempfile.gettempdir()) / f"jupyter-runtime-{uid}"
                if runtime.is_dir() and not runtime.is_symlink() and runtime.stat().st_uid == uid:
                    shutil.rmtree(runtime, ignore_errors=True)
                subprocess.run(["userdel", user.system_name], capture_output=True, timeout=60)
        if remove_files:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return notes

    def learner(self, name: str, password: str = None) -> "Learner":
        user = Learner(self, name, password or f"pw-{uuid.uuid4().hex[:12]}")
        self.users.append(user)
        return user

    def home_of(self, name: str) -> Path:
        return self.tmp / "homes" / (f"{self.prefix}{name}" if self.isolated else name)


class Learner:
    """One simulated learner: REST login, their server, kernels driven over websockets."""

    def __init__(self, hub: Hub, name: str, password: str):
        self.hub, self.name, self.password = hub, name, password
        self.system_name = f"{hub.prefix}{name}"
        self.token = None
        self.http = requests.Session()

    @property
    def server(self) -> str:
        return f"{self.hub.url}/user/{self.name}"

    def _auth(self) -> dict:
        return {"Authorization": f"token {self.token}"}

    def login(self) -> None:
        """Log in at the hub's login page (the first login sets this learner's password), then ask the REST API for a token."""
        self.http.get(f"{self.hub.url}/hub/login", timeout=HTTP_S)
        xsrf = self.http.cookies.get("_xsrf", "")
        answer = self.http.post(f"{self.hub.url}/hub/login", timeout=HTTP_S, allow_redirects=False,
                                data={"username": self.name, "password": self.password, "_xsrf": xsrf})
        if answer.status_code != 302:
            raise HubError(f"{self.name}: login refused ({answer.status_code})")
        xsrf = self.http.cookies.get("_xsrf", xsrf)
        answer = self.http.post(f"{self.hub.url}/hub/api/users/{self.name}/tokens", timeout=HTTP_S,
                                headers={"X-XSRFToken": xsrf},
                                json={"note": "classroom load test", "expires_in": 3600})
        if answer.status_code not in (200, 201):
            raise HubError(f"{self.name}: no token ({answer.status_code}): {answer.text[:200]}")
        self.token = answer.json()["token"]

    def start_server(self, timeout: float = WAIT_S) -> None:
        answer = self.http.post(f"{self.hub.url}/hub/api/users/{self.name}/server", headers=self._auth(), timeout=HTTP_S)
        if answer.status_code not in (201, 202, 400):  # 400: already running
            raise HubError(f"{self.name}: spawn refused ({answer.status_code}): {answer.text[:200]}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.http.get(f"{self.hub.url}/hub/api/users/{self.name}", headers=self._auth(), timeout=HTTP_S).json()
            server = (model.get("servers") or {}).get("")
            if server and server.get("ready"):
                return
            if server is None and model.get("pending") is None and time.monotonic() > deadline - timeout + 5:
                raise HubError(f"{self.name}: the server stopped while starting:\n{self.hub.log_tail(about=self.name)}")
            time.sleep(1)
        raise HubError(f"{self.name}: server not ready after {timeout:.0f} s:\n{self.hub.log_tail(about=self.name)}")

    def stop_server(self) -> None:
        if self.token:
            self.http.delete(f"{self.hub.url}/hub/api/users/{self.name}/server", headers=self._auth(), timeout=HTTP_S)

    def api(self, method: str, path: str, **kwargs):
        answer = self.http.request(method, f"{self.server}/api/{path}", headers=self._auth(), timeout=HTTP_S, **kwargs)
        if not answer.ok:
            raise HubError(f"{self.name}: {method} /api/{path} -> {answer.status_code}: {answer.text[:300]}")
        return answer.json() if answer.content else None

    def open_notebook(self, path: str) -> "KernelClient":
        """What JupyterLab does on opening a notebook: a session (kernel started in the notebook's folder)."""
        session = self.api("POST", "sessions", json={"path": path, "type": "notebook", "name": Path(path).name,
                                                     "kernel": {"name": "python3"}})
        return KernelClient(self, session["kernel"]["id"], session["id"])


class KernelClient:
    """A kernel of one learner's server, spoken to over the kernel websocket (JSON messages)."""

    def __init__(self, learner: Learner, kernel_id: str, session_id: str):
        self.learner, self.kernel_id, self.session_id = learner, kernel_id, session_id
        url = learner.server.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
        # the server answers the handshake once the kernel is ready: on a busy machine that can take minutes
        self.ws = websocket.create_connection(url, header=[f"Authorization: token {learner.token}"], timeout=WAIT_S)
        self.lock = threading.Lock()

    def execute(self, code: str, timeout: float = WAIT_S) -> dict:
        """Run ``code``; returns outputs, error (or None), and the seconds to the first output and to the end."""
        msg_id = uuid.uuid4().hex
        message = {"header": {"msg_id": msg_id, "username": self.learner.name, "session": self.session_id,
                              "msg_type": "execute_request", "version": "5.3", "date": ""},
                   "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                   "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                               "allow_stdin": False, "stop_on_error": True}}
        outputs, error, first, reply, idle = [], None, None, None, False
        with self.lock:
            start = time.monotonic()
            self.ws.send(json.dumps(message))
            while not (idle and reply is not None):
                remaining = start + timeout - time.monotonic()
                if remaining <= 0:
                    raise HubError(f"{self.learner.name}: a cell ran over {timeout:.0f} s")
                self.ws.settimeout(remaining)
                raw = self.ws.recv()
                if not raw:
                    raise HubError(f"{self.learner.name}: the kernel's websocket closed during a cell")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["header"]["msg_type"], msg["content"]
                if msg.get("channel") == "shell" and kind == "execute_reply":
                    reply = content
                    if content.get("status") != "ok" and error is None:
                        error = f"{content.get('ename')}: {content.get('evalue')}"
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
                elif kind in ("stream", "display_data", "execute_result", "error"):
                    if first is None:
                        first = time.monotonic() - start
                    output = {"output_type": kind, **{k: v for k, v in content.items() if k != "transient"}}
                    if kind == "execute_result":
                        output.setdefault("metadata", {})
                    if kind == "display_data":
                        output.setdefault("metadata", {})
                    if kind == "error":
                        error = f"{content.get('ename')}: {content.get('evalue')}"
                    outputs.append(output)
            done = time.monotonic() - start
        return {"outputs": outputs, "error": error, "first_output_s": first, "done_s": done,
                "count": (reply or {}).get("execution_count")}

    def reconnect(self) -> "KernelClient":
        """A new websocket to the same kernel (an idle one is closed by the server after its ping timeout)."""
        self.close()
        return KernelClient(self.learner, self.kernel_id, self.session_id)

    def probe(self) -> dict:
        result = self.execute(PROBE)
        for out in result["outputs"]:
            if out["output_type"] == "stream" and "PROBE" in out.get("text", ""):
                return json.loads(out["text"].split("PROBE", 1)[1].strip().splitlines()[0])
        raise HubError(f"{self.learner.name}: the probe printed nothing ({result['error']})")

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
