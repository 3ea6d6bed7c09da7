"""The webhook address guard unwraps IPv4 addresses carried inside IPv6 ones."""

import pytest

from bots.engine.netguard import is_public_address
from bots.engine.webhook import WebhookError, resolve

INTERNAL_IN_DISGUISE = [
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b:1::a9fe:a9fe",  # RFC 8215 local-use NAT64
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2002:0a00:0001::1",  # 6to4 of 10.0.0.1
    "::127.0.0.1",  # IPv4-compatible loopback
    "::10.0.0.1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo whose client is 10.0.0.1
    "fe80::1%eth0",
    "not an address",
]


@pytest.mark.parametrize("address", INTERNAL_IN_DISGUISE)
def test_embedded_internal_addresses_are_not_public(address):
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "93.184.215.14",
        "2606:2800:220:1:248:1893:25c8:1946",
        "::ffff:93.184.215.14",
        "64:ff9b::5db8:d70e",
        "2002:5db8:d70e::1",
    ],
)
def test_public_addresses_stay_public(address):
    assert is_public_address(address)


@pytest.mark.parametrize("host", ["[64:ff9b::a9fe:a9fe]", "[2002:a9fe:a9fe::]", "[::127.0.0.1]"])
def test_webhook_urls_with_embedded_internal_addresses_are_refused(host):
    with pytest.raises(WebhookError, match="private"):
        resolve(f"https://{host}/hook")
