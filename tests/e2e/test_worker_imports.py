"""What the processes load: a serving worker the HTTP client library (httpx, 3 MB) only once it
reaches an identity provider; the command line none of the application until a command needs it.
Checked in fresh interpreters, as the processes start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = """
import sys
from pathlib import Path
from tenantry.bootstrap import bootstrap
from tenantry.settings import Settings
from tenantry.web.app import create_app
import tenantry.cli
services = bootstrap(Settings(data_dir=Path(sys.argv[1])))
create_app(services, background=False)
print("httpx" in sys.modules)
services.oidc.http()  # the first SSO request makes the client
print("httpx" in sys.modules)
"""


def test_httpx_is_loaded_on_the_first_request_to_an_identity_provider(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["False", "True"], done.stdout


def test_the_command_line_loads_the_application_only_when_a_command_runs() -> None:
    """``serve --workers N`` keeps its process as the workers' supervisor: it must not hold the
    database layer, the web framework and the use cases (it was 76 MiB with them)."""
    heavy = ("sqlalchemy", "fastapi", "argon2", "jinja2", "tenantry.bootstrap", "tenantry.web")
    program = f"import sys, tenantry.cli; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
