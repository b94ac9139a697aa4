"""What a serving worker loads: the HTTP client library (httpx, 3 MB) only once it reaches an
identity provider. Checked in a fresh interpreter, as a worker starts."""

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
