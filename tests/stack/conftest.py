"""The whole Airflow stack as users run it: PostgreSQL, api-server, scheduler (LocalExecutor), DAG processor
and triggerer, each a real process, against the sandbox; started once for the stack tests.

PostgreSQL is Debian's server (``scripts/system-deps.sh`` installs it): a throwaway cluster made with
``initdb`` under a temporary directory, on a free port, stopped at the end. As root (CI) its programs
run as the ``postgres`` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import airflow
import pytest
import requests

from airflow_provider_videotask.sandbox import Sandbox
from tests.conftest import SENTINEL_TOKEN

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "tests" / "dags"
CALLBACK_SECRET = "stack-callback-secret-0123456789"
AIRFLOW_VERSION = tuple(int(part) for part in airflow.__version__.split(".")[:2])
COMPONENTS = ("api-server", "scheduler", "triggerer", "dag-processor")
IN_CI = os.environ.get("CI") == "true"
# Figures the stack tests measure, printed at the end of the run (and kept for the closing notes).
FIGURES: dict[str, Any] = {}
ARTIFACTS = ROOT / "build" / "test-artifacts"  # screenshots of failed browser tests


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/stack/" in str(item.fspath):
            item.add_marker(pytest.mark.stack)
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("stack test figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")
        out = ROOT / "build" / "stack-figures.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(FIGURES, indent=2))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failure, the page as it was: a screenshot beside the report."""
    outcome = yield
    report = outcome.get_result()
    page = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and report.failed and page is not None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{item.name}.png"
        page.screenshot(path=str(path), full_page=True)
        report.sections.append(("screenshot", f"{path} (at {page.url})"))


def missing(what: str) -> None:
    """Skip where a system program is not installed, except in CI, which installs it (.ci/run)."""
    message = f"{what} is not installed: scripts/system-deps.sh installs it (as root, with apt)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(what: str, condition: Callable[[], Any], timeout: float, on_timeout: Callable[[], str] = str) -> Any:
    """Poll ``condition`` until it gives something truthy; fail naming ``what`` (and what ``on_timeout`` says)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{on_timeout()}")


class Postgres:
    """A throwaway PostgreSQL cluster: initdb, pg_ctl start on a free port, pg_ctl stop."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            missing("PostgreSQL (Debian's postgresql package)")
        self.bin = Path(found[-1]).parent
        # Not under pytest's tmp_path: its parents are private to root, and the server may run as postgres.
        self.base = Path(tempfile.mkdtemp(prefix="videotask-postgres-"))
        self.data = self.base / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.base, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, str(self.bin / program), *args], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{program} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}"

    def start(self) -> Postgres:
        self.run("initdb", "-D", str(self.data), "-U", "airflow", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.base / "server.log"), "-w", "start")
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "airflow", "airflow")
        return self

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"


class Stack:
    """Airflow's components as processes, each in its own process group (so a kill takes its children)."""

    def __init__(self, home: Path, env: dict[str, str], postgres: Postgres) -> None:
        self.home = home
        self.env = env
        self.postgres = postgres
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.spare_api_port = 0  # free for a second api-server

    def airflow(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=self.env, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    def start(self, component: str, *args: str, name: str | None = None, env: dict[str, str] | None = None) -> None:
        name = name or component
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "airflow", component, *args],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """``kill -9`` (by default) the component and everything it started."""
        process = self.processes.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop(self) -> None:
        for name in list(self.processes):
            self.kill(name, signal.SIGTERM)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"airflow {name} exited: {self.log_tail(name)}"

    def api_server_answers(self) -> bool:
        try:
            return requests.get(f"{self.api_url}/api/v2/monitor/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['AIRFLOW__API__PORT']}"

    def log_tail(self, name: str, size: int = 3000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else "(no log)"

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log_tail(name)}" for name in self.processes)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read Airflow's database while it runs."""
        import psycopg2

        db = psycopg2.connect(host="127.0.0.1", port=self.postgres.port, user="airflow", dbname="airflow")
        try:
            with db, db.cursor() as cursor:  # one transaction; the connection itself is closed below
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            db.close()

    def wait_for(self, what: str, condition: Callable[[], Any], timeout: float = 180) -> Any:
        def alive_and(condition: Callable[[], Any] = condition) -> Any:
            self.check_alive()
            return condition()

        return wait_until(what, alive_and, timeout, self.logs)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Trigger a run through the REST API, as a user's script would; its run id."""
        self.wait_for(f"{dag_id} to be parsed", lambda: self.query("select 1 from dag where dag_id = %s", dag_id))
        answer = requests.post(
            f"{self.api_url}/api/v2/dags/{dag_id}/dagRuns",
            json={"logical_date": None, "conf": conf or {}},
            headers=self.auth_headers(),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["dag_run_id"])

    def auth_headers(self) -> dict[str, str]:
        answer = requests.post(
            f"{self.api_url}/auth/token", json={"username": "admin", "password": self.admin_password()}, timeout=30
        )
        assert answer.status_code in (200, 201), answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def admin_password(self) -> str:
        passwords = self.home / "simple_auth_manager_passwords.json.generated"
        wait_until("the generated admin password", passwords.exists, 60)
        return str(json.loads(passwords.read_text())["admin"])

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query("select state from dag_run where dag_id = %s and run_id = %s", dag_id, run_id)
        return rows[0][0] if rows else None

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 240) -> str:
        return str(
            self.wait_for(
                f"run {run_id} of {dag_id} to finish",
                lambda: (state := self.run_state(dag_id, run_id)) in ("success", "failed") and state,
                timeout,
            )
        )

    def clear(self, dag_id: str, run_id: str, task_id: str) -> None:
        """Clear a failed task through the REST API, as the UI's Clear button does: it runs again."""
        answer = requests.post(
            f"{self.api_url}/api/v2/dags/{dag_id}/clearTaskInstances",
            json={"dry_run": False, "dag_run_id": run_id, "task_ids": [task_id], "reset_dag_runs": True},
            headers=self.auth_headers(),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        self.wait_for("the cleared run to start again", lambda: self.run_state(dag_id, run_id) not in ("failed",))

    def finish_after_a_kill(self, dag_id: str, run_id: str, task_id: str = "generate") -> str:
        """The run's end once a task of it was killed with -9. Airflow 3.1+ retries the task (its retries);
        3.0's supervisor ends a task killed by a signal as failed without them, so there a person clears it,
        as the log asks, and the cleared task plays the retry."""
        state = self.wait_for_run(dag_id, run_id)
        tries = [tries for tid, _, _, tries in self.task_states(dag_id, run_id) if tid == task_id]
        if state == "failed" and tries == [1] and AIRFLOW_VERSION < (3, 1):
            self.clear(dag_id, run_id, task_id)
            state = self.wait_for_run(dag_id, run_id)
        return state

    def task_states(self, dag_id: str, run_id: str) -> list[tuple[str, int, str | None, int]]:
        """(task_id, map_index, state, try_number) of every task instance of a run."""
        return [
            (task_id, map_index, state, try_number)
            for task_id, map_index, state, try_number in self.query(
                "select task_id, map_index, state, try_number from task_instance "
                "where dag_id = %s and run_id = %s order by task_id, map_index",
                dag_id,
                run_id,
            )
        ]


@pytest.fixture(scope="session")
def stack_sandbox() -> Iterator[Sandbox]:
    with Sandbox(duration=2) as server:
        yield server


@contextmanager
def airflow_stack(base: Path, sandbox: Sandbox, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """PostgreSQL and Airflow's components under ``base``, their connections on ``sandbox`` (also used by
    benchmarks/bench_callbacks.py)."""
    postgres = Postgres().start()
    home = base / "airflow"
    (home / "dags").mkdir(parents=True)
    for dag_file in ("e2e_sensor_dag.py", "stack_dags.py"):
        shutil.copy(DAGS / dag_file, home / "dags")
    port, spare_port = free_port(), free_port()
    connections = {
        f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(
            {"conn_type": conn_type, "host": sandbox.url, "password": SENTINEL_TOKEN}
        )
        for conn_id, conn_type in (
            ("e2e_hidream", "hidream"),
            ("stack_hailuo", "hailuo"),
            ("stack_ace", "acedatacloud"),
        )
    }
    # Callbacks (test_callbacks.py): to the api-server, or to a second one started on the spare port.
    for conn_id, api_port, fallback in (
        ("stack_callbacks", port, 120),
        ("stack_callbacks_fast", port, 25),
        ("stack_callbacks_2", spare_port, 120),
    ):
        extra = {
            "callback_base_url": f"http://127.0.0.1:{api_port}",
            "callback_secret": CALLBACK_SECRET,
            "callback_fallback_interval": fallback,
        }
        connections[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
            {"conn_type": "hailuo", "host": sandbox.url, "password": SENTINEL_TOKEN, "extra": extra}
        )
    # HiDream with callbacks, and an API-User-ID of its own that a task's api_user_id overrides.
    hidream_extra = {
        "callback_base_url": f"http://127.0.0.1:{port}",
        "callback_secret": CALLBACK_SECRET,
        "callback_fallback_interval": 120,
        "api_user_id": "conn-user",
    }
    connections["AIRFLOW_CONN_STACK_HIDREAM_CALLBACKS"] = json.dumps(
        {"conn_type": "hidream", "host": sandbox.url, "password": SENTINEL_TOKEN, "extra": hidream_extra}
    )
    env = {
        **os.environ,
        **connections,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.url,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": "stack-test-secret",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        # A killed triggerer's triggers are taken over once its heartbeat is this old (default 30 s).
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        **(extra_env or {}),
    }
    env.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", None)
    running = Stack(home, env, postgres)
    running.spare_api_port = spare_port
    try:
        running.airflow("db", "migrate")
        for component in COMPONENTS:
            running.start(component)
        running.wait_for("the API server", running.api_server_answers, timeout=120)
        yield running
    finally:
        running.stop()
        postgres.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, stack_sandbox: Sandbox) -> Iterator[Stack]:
    pytest.importorskip("psycopg2", reason="the stack tests need the stack extra: make test-stack")
    with airflow_stack(tmp_path_factory.mktemp("stack"), stack_sandbox) as running:
        yield running


@pytest.fixture
def sandbox(stack_sandbox: Sandbox) -> Sandbox:
    """The stack's sandbox, its counters and tasks from this test only."""
    stack_sandbox.clear_faults()
    stack_sandbox.reset_counts()
    with stack_sandbox.state.lock:
        stack_sandbox.state.tasks.clear()
        stack_sandbox.state.batches.clear()
    return stack_sandbox


@pytest.fixture
def components(stack: Stack) -> Iterator[Stack]:
    """The stack, made whole again after a test that killed or added components."""
    yield stack
    for name in [name for name in stack.processes if name not in COMPONENTS]:
        stack.kill(name, signal.SIGTERM)
    for component in COMPONENTS:
        if component not in stack.processes or stack.processes[component].poll() is not None:
            stack.processes.pop(component, None)
            stack.start(component)


# ----- a real browser: Debian's Chromium, driven by Playwright for Python -----------------------------------

CHROMIUM = "/usr/bin/chromium"
# As root in a container, and on a machine without the internet: no sandbox, no background calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(stack: Stack) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        missing("Chromium (Debian's chromium package)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the stack extra: make test-stack")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(30_000)
        yield context.new_page()
        browser.close()


def log_in(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.api_url}/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(stack.admin_password())
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{stack.api_url}/")
