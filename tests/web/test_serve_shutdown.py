"""`genlab serve` stops promptly on SIGINT and SIGTERM: no new connections, the request in flight is answered.

A real server process on a loopback port; the request in flight is a POST whose body is still
being sent when the signal arrives (uvicorn has dispatched it: the app is waiting for the body).
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from genlab.web.server import free_port

START_S = 180  # start-up imports torch and the app: tens of seconds on a busy 2-core machine
STOP_S = 15  # from the signal to the exit, the in-flight request included (about 0.3 s measured here)


def wait_until_serving(proc, url: str) -> int:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"no answer from {url} within {START_S} s")


def refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
        except (ConnectionRefusedError, TimeoutError):
            return True
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_server_after_the_request_in_flight(sig, tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "genlab", "serve", "--runs", str(tmp_path), "--db", str(tmp_path / "s.sqlite")]
        + ["--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert wait_until_serving(proc, f"http://127.0.0.1:{port}/gallery") == 200  # /gallery: the gallery too
        body = b"token=x&choice=real"
        in_flight = socket.create_connection(("127.0.0.1", port), timeout=STOP_S)
        head = (
            f"POST /survey/answer HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        in_flight.sendall(head.encode() + body[:5])  # the app now awaits the rest of the body
        time.sleep(1.0)
        start = time.monotonic()
        proc.send_signal(sig)
        deadline = start + STOP_S
        while not refused(port):  # no new connections once the signal is handled
            assert time.monotonic() < deadline, "still accepting connections"
            time.sleep(0.1)
        assert proc.poll() is None  # ... while the request in flight is still open
        in_flight.sendall(body[5:])
        answer = in_flight.recv(65536)
        in_flight.close()
        out, err = proc.communicate(timeout=STOP_S)
        took = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert answer.startswith(b"HTTP/1.1 "), answer[:80]  # answered (its status is the app's business)
    assert proc.returncode == 0 and took < STOP_S, (proc.returncode, took, err)
    assert f"stopped by {sig.name}" in out and "Traceback" not in err
