"""The classroom hub's spawner and authenticator (used by hub/jupyterhub_config.py, `make hub`).

Run as root, the hub gives every learner a real system account (``<prefix><name>``) whose home
folder only they can read; run as anyone else, it is a trial hub: every learner's server runs as
your own account, in its own folder, but nothing stops one learner from reading another's files.
"""
import asyncio
import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import time
from hmac import compare_digest
from pathlib import Path

from firstuseauthenticator import FirstUseAuthenticator
from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Tuple, Unicode

REPO = Path(__file__).resolve().parent.parent


def running_as_root() -> bool:
    return os.geteuid() == 0


def unreadable_for_others(path: Path) -> list:
    """Folders on the way to ``path`` (and ``path`` itself) that an unprivileged account cannot enter."""
    bad = []
    path = path.resolve()
    for folder in [*reversed(path.parents), path]:
        mode = folder.stat().st_mode
        if not mode & 0o001 or (folder == path and not mode & 0o004):
            bad.append(str(folder))
    return bad


def needs_stand_in() -> bool:
    """True when other accounts cannot run this environment's interpreter."""
    return bool(unreadable_for_others(Path(sys.base_prefix)) or unreadable_for_others(Path(sys.prefix)))


def stand_in_base():
    """A python3.X of this version that every account can run, or None."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return next((Path(d) / version for d in ("/usr/bin", "/usr/local/bin")
                 if (Path(d) / version).exists() and not unreadable_for_others(Path(d) / version)), None)


def learner_python(folder: Path) -> Path:
    """The Python learners' servers and kernels run: this environment's, if every account can read it.

    A venv made from an interpreter in a private folder (pyenv under /root, say) cannot be run by
    learner accounts. Then the same packages are offered through a small venv in ``folder``, made from
    a readable interpreter of the same version (python3.X in /usr/bin or /usr/local/bin), whose
    site-packages point at this environment's, and whose etc/ and share/ are this environment's
    (Jupyter finds its server extensions, JupyterLab and settings under sys.prefix).
    """
    if not needs_stand_in():
        return Path(sys.executable)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base = stand_in_base()
    if base is None:
        raise SystemExit(f"make hub: learners cannot run {sys.base_prefix} (a private folder), and there is no "
                         f"readable {version} to stand in; build .venv with `make venv PYTHON=/usr/bin/{version}`.")
    shim = folder / "bin" / "python"
    link = folder / "lib" / version / "site-packages" / "course_env.pth"
    line = f"import site; site.addsitedir({str(Path(sys.prefix) / 'lib' / version / 'site-packages')!r})\n"
    shared = {name: Path(sys.prefix) / name for name in ("etc", "share")}  # Jupyter's config and data (JupyterLab, kernels)
    if not (shim.exists() and link.exists() and link.read_text() == line
            and all(os.path.realpath(folder / n) == os.path.realpath(t) for n, t in shared.items())):
        shutil.rmtree(folder, ignore_errors=True)
        old_mask = os.umask(0o022)  # readable by every learner
        try:
            subprocess.run([str(base), "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
        finally:
            os.umask(old_mask)
        link.write_text(line)
        for name, target in shared.items():
            (folder / name).symlink_to(target)
    return shim


class WorkshopAuthenticator(FirstUseAuthenticator):
    """A learner's first login sets their password; the instructor logs in with a password set in advance.

    With first-use passwords nobody else can later log in under a learner's name (a shared password
    would let any learner open anyone's server), and the instructor's account cannot be claimed by
    whoever logs in first as "instructor".
    """

    admin_password = Unicode("", config=True, help="The instructor's password (the admin_users log in with it).")

    async def authenticate(self, handler, data):
        if not isinstance(data, dict) or not isinstance(data.get("username"), str):
            return None
        name = self.normalize_username(data["username"])
        if name in self.admin_users:
            given = str(data.get("password", "")).encode()
            ok = bool(self.admin_password) and compare_digest(given, self.admin_password.encode())
            return name if ok else None
        return await super().authenticate(handler, data)


def ephemeral_ports() -> tuple:
    """The range Linux hands out for port 0 and outgoing connections (kernels' ports, every HTTP client)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port(low: int, high: int, taken=()) -> int:
    """A port in [low, high) that nothing listens on, outside the ephemeral range and not in ``taken``.

    JupyterHub's own choice is a port from the ephemeral range, free when chosen; the server binds it
    seconds later, and on a busy hub a kernel or a connection can take it meanwhile: the server then
    exits at once, and the hub waits for it until ``http_timeout``. Ports below the range are never
    handed out that way.
    """
    ephemeral_low, ephemeral_high = ephemeral_ports()
    candidates = [p for p in range(low, high) if not ephemeral_low <= p <= ephemeral_high and p not in taken]
    random.shuffle(candidates)  # two hubs on one machine rarely try the same ports in the same order
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {low} and {high} outside the ephemeral range "
                       f"{ephemeral_low}-{ephemeral_high}: set CourseSpawner.ports to another range")


async def wait_until_listening(proc, ip: str, port: int, timeout: float, name: str = "the server") -> None:
    """Return once ``ip:port`` accepts a connection; raise at once if ``proc`` ends first, or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        status = proc.poll()
        if status is not None:
            raise RuntimeError(f"{name} exited while starting (exit code {status}); "
                               "its lines in the hub's log say why")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), timeout=2)
        except (OSError, asyncio.TimeoutError):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not listen on {ip}:{port} within {timeout:.0f} s") from None
            await asyncio.sleep(0.2)
            continue
        writer.close()
        return


class CourseSpawner(LocalProcessSpawner):
    """Each learner's server runs as their own account, in a home folder only they can read.

    ``hub/learner_start.py`` then copies the notebooks into that home (never over a learner's
    file) and starts the single-user server; the repo itself stays read-only and shared.
    """

    user_prefix = Unicode("tsw-", config=True, help="System accounts are this prefix + the hub name.")
    homes = Unicode("/home", config=True, help="Folder that holds the learners' home folders.")
    ports = Tuple((20000, 32000), config=True, help="Learners' servers listen on ports from [low, high), "
                  "outside the ephemeral range (see free_port).")
    _recent = {}  # port -> when it was given: not given again while a server may still be starting on it

    @property
    def system_name(self) -> str:
        return f"{self.user_prefix}{self.user.name}"

    def home(self) -> Path:
        if running_as_root():
            return Path(pwd.getpwnam(self.system_name).pw_dir)
        return Path(self.homes) / self.user.name

    def ensure_account(self) -> None:
        """Create the learner's account (as root) or folder (otherwise); never touches an existing one's files."""
        if not running_as_root():
            home = self.home()
            home.mkdir(parents=True, exist_ok=True)
            home.chmod(0o700)
            return
        try:
            pwd.getpwnam(self.system_name)
        except KeyError:
            Path(self.homes).mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["useradd", "--create-home", "--home-dir", str(Path(self.homes) / self.system_name),
                 "--shell", "/bin/bash", "--user-group", "--comment", "workbook learner", self.system_name],
                check=True, capture_output=True, timeout=60)
        os.chmod(self.home(), 0o700)  # the home folder is the learner's alone

    def make_preexec_fn(self, name):
        if running_as_root():
            return super().make_preexec_fn(self.system_name)
        home = str(self.home())
        return lambda: os.chdir(home)

    def user_env(self, env):
        env["USER"] = self.system_name
        env["HOME"] = str(self.home())
        env["SHELL"] = "/bin/bash"
        return env

    async def start(self):
        self.ensure_account()
        if not self.port:
            now = time.monotonic()
            recent = CourseSpawner._recent
            for port, given in list(recent.items()):
                if now - given > self.start_timeout + self.http_timeout:
                    del recent[port]
            self.port = free_port(*self.ports, taken=recent)
            recent[self.port] = now
        ip, port = await super().start()
        # A server that ends while starting is reported now, not after http_timeout.
        await wait_until_listening(self.proc, ip, port, self.start_timeout, f"{self.user.name}'s server")
        return ip, port
