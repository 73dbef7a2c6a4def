"""The autouse network guard: a test may reach loopback only."""

from __future__ import annotations

import socket
import threading

import pytest


def test_a_connection_beyond_loopback_trips_the_guard(network_guard):
    # 192.0.2.1 is TEST-NET-1 (documentation only); the guard refuses before any packet.
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(OSError, match="loopback only"),
    ):
        sock.connect(("192.0.2.1", 443))
    assert network_guard == ["('192.0.2.1', 443)"]
    network_guard.clear()  # the trip is this test's point, not its failure


def test_a_name_lookup_beyond_loopback_trips_the_guard(network_guard):
    with pytest.raises(OSError, match="loopback only"):
        socket.getaddrinfo("api.telegram.org", 443)
    assert network_guard
    network_guard.clear()


def test_loopback_connections_pass(network_guard):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        accepted = threading.Thread(target=lambda: server.accept()[0].close())
        accepted.start()
        with socket.create_connection(("localhost", port), timeout=5):
            pass
        accepted.join(5)
    assert network_guard == []
