"""Ray that connects: a token-authenticated cluster, a refused or unreachable address, table commands without Ray."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STUDY = """name: tiny
base: {base: nb201-digits, protocol: {epochs: 1}, eval: {final: false}}
seeds: [0]
factors: {}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wsbench(*args: str, env: dict[str, str], cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wsbench", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_unreachable_address_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(STUDY)
    port = _free_port()  # nothing listens there
    res = _wsbench("sweep", "tiny.yaml", "--address", f"127.0.0.1:{port}", "--out", "o", env=dict(os.environ),
                   cwd=tmp_path, timeout=60)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]  # one line
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in res.stderr and "ray start --head" in res.stderr


def test_table_commands_do_not_import_ray() -> None:
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom wsbench.cli import app\n"
            "for args in (['arch', 'nb201', '|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|'],"
            " ['presets'], ['data', 'info']):\n"
            "    CliRunner().invoke(app, args)\n"
            "print('ray' in sys.modules, 'torch' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip().splitlines()[-1] == "False False", res.stdout + res.stderr


@pytest.mark.slow
def test_token_authenticated_cluster(tmp_path: Path) -> None:
    ray_bin = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    head_home, driver_home = tmp_path / "head", tmp_path / "driver"
    head_home.mkdir()
    driver_home.mkdir()
    port = _free_port()
    short_tmp = tempfile.mkdtemp(prefix="wsr", dir="/tmp")  # Ray's socket paths must stay under 107 characters
    env_head = {**os.environ, "HOME": str(head_home), "RAY_AUTH_MODE": "token"}
    env_head.pop("RAY_AUTH_TOKEN", None)
    # a cluster started with `ray start` needs its token generated first (Ray's token-auth guide)
    subprocess.run([ray_bin, "get-auth-token", "--generate"], env=env_head, capture_output=True, timeout=120)
    head = subprocess.Popen([ray_bin, "start", "--head", "--port", str(port), "--num-cpus", "1",
                             "--include-dashboard", "false", "--temp-dir", short_tmp, "--block"],
                            env=env_head, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        token = head_home / ".ray" / "auth_token"
        deadline, up = time.time() + 120, False
        while not up and time.time() < deadline and head.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                up = True
            except OSError:
                time.sleep(0.5)
        if not up or not token.exists():
            pytest.skip("ray start --head (token authentication) did not come up on this machine")
        time.sleep(5)  # the head's raylet registers after its GCS listens
        (tmp_path / "tiny.yaml").write_text(STUDY)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        env["HOME"] = str(driver_home)  # no token of its own
        address = f"127.0.0.1:{port}"
        refused = _wsbench("sweep", "tiny.yaml", "--address", address, "--out", "o1", "--data-dir", "d", env=env,
                           cwd=tmp_path)
        assert refused.returncode == 2, refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "refused this driver's token" in lines[0] and "--ray-token-file" in lines[0]
        ok = _wsbench("sweep", "tiny.yaml", "--address", address, "--ray-token-file", str(token), "--out", "o2",
                      "--data-dir", "d", env=env, cwd=tmp_path)
        assert ok.returncode == 0, ok.stderr[-2000:]
        assert "ran=1 finished=1" in ok.stdout
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(head.pid, signal.SIGKILL)
        shutil.rmtree(short_tmp, ignore_errors=True)
