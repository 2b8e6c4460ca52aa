"""Connecting a sweep driver to Ray: a local Ray, an existing cluster, a token-authenticated one.

``init_ray(address, token_file)`` starts a local Ray or connects to ``address``. Before Ray is imported,
``use_auth_token`` points Ray's own settings (``RAY_AUTH_MODE=token``, ``RAY_AUTH_TOKEN_PATH``) at the token
file; an address nothing listens on is refused at once, and a refused token or a failed connection becomes one
``RayConnectionError`` line naming the address and the fix (Ray's C++ retry messages are captured, not shown).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RayConnectionError(ValueError):
    """The Ray cluster named by ``--address`` cannot be reached or refuses this driver (one-line message)."""


_AUTH_HINT = ("a cluster started with token authentication (RAY_AUTH_MODE=token, the default of current Ray) needs "
              "its token here: --ray-token-file PATH (from `ray get-auth-token` on the head) or RAY_AUTH_TOKEN")


def use_auth_token(token_file: str | Path | None) -> None:
    """Make Ray use the token in ``token_file`` for this process and the workers it starts (Ray reads
    ``RAY_AUTH_TOKEN_PATH`` with ``RAY_AUTH_MODE=token``)."""
    if token_file is None:
        return
    path = Path(token_file).expanduser()
    if not path.is_file() or not path.read_text().strip():
        raise RayConnectionError(f"Ray token file {path} does not exist or is empty; copy the output of "
                                 f"`ray get-auth-token` on the head node into it")
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(path)
    os.environ["RAY_AUTH_MODE"] = "token"


def _reachable(address: str, timeout: float = 5.0) -> str | None:
    """None when ``host:port`` accepts a TCP connection (or the address is not of that form), else why not."""
    import socket

    if address in ("auto", "local") or "://" in address or ":" not in address:
        return None
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return None
    except ValueError:
        return f"port {port!r} is not a number"
    except OSError as exc:
        return exc.strerror or str(exc)


@contextmanager
def _captured_fd2() -> Iterator[dict[str, str]]:
    """Capture what Ray's C++ core writes to file descriptor 2 (20 s of retries when a connection is refused)."""
    import sys
    import tempfile

    box = {"text": ""}
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield box
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            box["text"] = tmp.read().decode("utf-8", errors="replace")


def init_ray(address: str | None, token_file: str | Path | None = None) -> bool:
    """Connect to ``address`` or start a local Ray; returns whether this call started it. A cluster that cannot
    be reached or refuses the driver raises ``RayConnectionError`` with the address and the fix."""
    use_auth_token(token_file)  # before Ray is imported: it reads the token settings once
    import ray

    if ray.is_initialized():
        return False
    if address:
        why = _reachable(address)
        if why is not None:
            raise RayConnectionError(f"cannot reach the Ray cluster at {address} ({why}); start it there with "
                                     f"`ray start --head --port {address.rpartition(':')[2]}` and check that this "
                                     f"machine reaches it, or drop --address to run on a local Ray")
        failure: Exception | None = None
        with _captured_fd2() as log:
            try:
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            except Exception as exc:  # noqa: BLE001 - Ray raises many kinds here (ConnectionError, auth, version)
                failure = exc
        if failure is None:
            import sys

            sys.stderr.write(log["text"])  # connected: what Ray said is shown as it would have been
        else:
            said = f"{failure} {log['text']}"
            if "InvalidAuthToken" in said or "Unauthenticated" in said:
                raise RayConnectionError(f"the Ray cluster at {address} refused this driver's token (or it has "
                                         f"none): {_AUTH_HINT}") from None
            first = (str(failure).strip().splitlines() or [type(failure).__name__])[0][:200]
            raise RayConnectionError(f"cannot connect to the Ray cluster at {address} ({type(failure).__name__}: "
                                     f"{first}); check `ray status --address {address}` on this machine; "
                                     f"{_AUTH_HINT}") from None
    else:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
    return True
