# The classroom JupyterHub of the workbook: `make hub` runs `jupyterhub -f hub/jupyterhub_config.py`.
# Every setting can be changed from the environment, without editing this file:
#   HUB_IP=127.0.0.1        where learners reach the hub (0.0.0.0 to serve a classroom network)
#   HUB_PORT=8000           the hub's public port; HUB_API_PORT=8081 and HUB_PROXY_API_PORT=8001 are internal
#   HUB_ADMIN=instructor    the instructor's (admin) account
#   HUB_ADMIN_PASSWORD      the instructor's password; if unset, one is made once and kept in HUB_STATE/admin_password
#   HUB_LEARNERS=a,b,c      only these names may log in (default: any name; the first login sets its password)
#   HUB_STATE=build/hub/state   the hub's database, cookie secret and password file
#   HUB_HOMES=/home         where learners' home folders are made (not root: build/hub/homes)
#   HUB_USER_PREFIX=tsw-    learner "ana" runs as system account "tsw-ana" (root only)
#   HUB_CULL_IDLE=3600      seconds without activity before the culler stops a learner's server
import os
import secrets
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from workshop import CourseSpawner, WorkshopAuthenticator, learner_python, running_as_root, unreadable_for_others  # noqa: E402

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)
env = os.environ.get

state = Path(env("HUB_STATE") or REPO / "build" / "hub" / "state")
state.mkdir(parents=True, exist_ok=True, mode=0o700)
homes = env("HUB_HOMES") or ("/home" if running_as_root() else str(REPO / "build" / "hub" / "homes"))

python = Path(sys.executable)
if running_as_root():
    # Learners run as unprivileged accounts: they must be able to read the repo and run its environment.
    blocked = unreadable_for_others(REPO) + unreadable_for_others(Path(sys.prefix))
    if blocked:
        sys.exit("make hub: learners could not read " + ", ".join(sorted(set(blocked)))
                 + ". Put the repo where every account can read it (for example /srv or /opt), or `chmod o+rx` those folders.")
    python = learner_python(REPO / "build" / "hub" / "learner-python")

# --- network: the hub listens where you say; everything internal stays on 127.0.0.1 ---
c.JupyterHub.ip = env("HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(env("HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env("HUB_API_PORT", "8081"))
proxy = REPO / ".venv" / "hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
c.ConfigurableHTTPProxy.command = [str(proxy) if proxy.exists() else "configurable-http-proxy"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(env('HUB_PROXY_API_PORT', '8001'))}"
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")

# --- what the hub keeps on disk (all in HUB_STATE) ---
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every learner's server and the proxy

# --- who logs in ---
admin = env("HUB_ADMIN", "instructor")
admin_password = env("HUB_ADMIN_PASSWORD")
if not admin_password:
    saved = state / "admin_password"
    if not saved.exists():
        fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(24) + "\n")
    admin_password = saved.read_text().strip()
c.JupyterHub.authenticator_class = WorkshopAuthenticator
c.WorkshopAuthenticator.admin_password = admin_password
c.Authenticator.admin_users = {admin}
if env("HUB_LEARNERS"):
    c.Authenticator.allowed_users = {name.strip().lower() for name in env("HUB_LEARNERS").split(",") if name.strip()}
else:
    c.Authenticator.allow_all = True  # a workshop: anyone who reaches the hub picks a name and a password
c.Authenticator.username_pattern = r"^[a-z][a-z0-9_-]{0,23}$"  # also a valid, safe system account name
c.FirstUseAuthenticator.dbm_path = str(state / "passwords.dbm")
c.FirstUseAuthenticator.min_password_length = 8

# --- each learner's server: own account and home, the course's notebooks and kernel ---
c.JupyterHub.spawner_class = CourseSpawner
c.CourseSpawner.homes = homes
c.CourseSpawner.user_prefix = env("HUB_USER_PREFIX", "tsw-")
c.Spawner.cmd = [str(python), str(HERE / "learner_start.py")]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab/tree/notebooks/00_start_here.ipynb"
c.Spawner.environment = {
    "PYTHONPATH": str(REPO),  # kernels import this checkout's helpers (read-only, shared)
    "HUB_RUN_MARK": env("HUB_RUN_MARK", ""),  # lets a test find every process this hub started
}
c.Spawner.args = [
    # a kernel whose tab was closed and that idled for 30 min is shut down (its notebook stays saved)
    "--MappingKernelManager.cull_idle_timeout=1800",
    "--MappingKernelManager.cull_interval=300",
    "--MappingKernelManager.cull_connected=False",
]
c.Spawner.start_timeout = 300  # a class logging in at once on a small machine
c.Spawner.http_timeout = 300

# --- the idle culler: stops servers nobody used for HUB_CULL_IDLE seconds ---
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={int(env('HUB_CULL_IDLE', '3600'))}",
                "--cull-every=300"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
