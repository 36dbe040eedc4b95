import pytest

from auth_service.addresses import client_address
from auth_service.config import parse_networks

TRUSTED = parse_networks("127.0.0.1,::1,10.0.0.0/8")


@pytest.mark.parametrize(
    ("peer", "real_ip", "forwarded", "expected"),
    [
        # Not from a trusted proxy: its own address, whatever it says.
        ("203.0.113.1", "1.2.3.4", ["5.6.7.8"], "203.0.113.1"),
        ("203.0.113.1", None, [], "203.0.113.1"),
        # From the gateway: X-Real-IP first.
        ("127.0.0.1", "198.51.100.7", ["6.6.6.6, 198.51.100.7"], "198.51.100.7"),
        ("::1", " 198.51.100.7 ", [], "198.51.100.7"),
        # No X-Real-IP: X-Forwarded-For from the right, skipping trusted proxies.
        ("127.0.0.1", None, ["6.6.6.6, 198.51.100.7, 10.1.2.3"], "198.51.100.7"),
        ("127.0.0.1", None, ["6.6.6.6", "198.51.100.7"], "198.51.100.7"),
        ("127.0.0.1", "not-an-ip", ["198.51.100.8"], "198.51.100.8"),
        # Garbage the client wrote stops the walk at the last address we can trust.
        ("127.0.0.1", None, ["junk, 10.0.0.5"], "10.0.0.5"),
        ("127.0.0.1", None, ["junk"], "127.0.0.1"),
        # The gateway itself, with nothing forwarded.
        ("127.0.0.1", None, [], "127.0.0.1"),
        ("::ffff:127.0.0.1", "198.51.100.9", [], "198.51.100.9"),
        (None, "1.2.3.4", [], "unknown"),
    ],
)
def test_client_address(peer, real_ip, forwarded, expected) -> None:
    assert client_address(peer, real_ip, forwarded, TRUSTED) == expected
