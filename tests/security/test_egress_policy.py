"""The egress policy (kit/net/egress.py): which addresses a tenant's webhook URL may reach."""

from __future__ import annotations

import ipaddress

import pytest

from kit.net.egress import DestinationForbidden, DestinationUnresolvable, EgressPolicy, forbidden_because

FORBIDDEN = [
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.0.1",
    "169.254.169.254",  # AWS/GCP/Azure metadata
    "169.254.170.2",  # ECS task metadata
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "100.100.100.200",  # Alibaba metadata
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.10",  # documentation
    "198.18.0.1",  # benchmarking
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:169.254.169.254",
    "::ffff:10.1.2.3",
    "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
    "2001:db8::1",  # documentation
]
ALLOWED = ["93.184.215.14", "8.8.8.8", "1.1.1.1", "100.63.255.255", "172.32.0.1", "2606:4700:4700::1111"]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_internal_addresses_are_refused(address):
    assert forbidden_because(ipaddress.ip_address(address)) is not None
    with pytest.raises(DestinationForbidden):
        EgressPolicy().check_address(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address):
    assert forbidden_because(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://[::1]:8080/hook",
        "http://[::ffff:7f00:1]/hook",
        "https://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.google.internal./x",
        "http://10.0.0.7:9000/",
        "ftp://example.com/hook",
        "http:///nohost",
    ],
)
def test_urls_to_internal_destinations_are_refused_without_a_lookup(url):
    def no_lookup(host, port):
        raise AssertionError(f"{host} should not be resolved")

    with pytest.raises(DestinationForbidden):
        EgressPolicy(resolver=no_lookup).resolve(url)


def test_a_name_is_refused_if_any_of_its_addresses_is_internal():
    policy = EgressPolicy(resolver=lambda host, port: ["93.184.215.14", "10.0.0.5"])
    with pytest.raises(DestinationForbidden, match="10.0.0.5 is a private address"):
        policy.resolve("https://hooks.example.com/x")


def test_a_public_name_resolves_to_its_checked_addresses_with_the_port():
    seen = []

    def resolver(host, port):
        seen.append((host, port))
        return ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]

    target = EgressPolicy(resolver=resolver).resolve("https://Hooks.Example.com:8443/x")
    assert seen == [("hooks.example.com", 8443)]
    assert (target.host, target.port, [str(a) for a in target.addresses]) == (
        "hooks.example.com",
        8443,
        ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    )


def test_scoped_link_local_answers_are_judged_without_their_zone():
    with pytest.raises(DestinationForbidden, match="link-local"):
        EgressPolicy(resolver=lambda host, port: ["fe80::1%eth0"]).resolve("http://printer.example/")


def test_an_unresolvable_name_is_its_own_error():
    def resolver(host, port):
        raise OSError("Name or service not known")

    with pytest.raises(DestinationUnresolvable):
        EgressPolicy(resolver=resolver).resolve("https://nowhere.example/")


def test_allow_private_admits_loopback_and_private_ranges_but_never_metadata():
    policy = EgressPolicy(allow_private=True)
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.9", "::1", "fd12::1"):
        policy.check_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "0.0.0.0", "224.0.0.1"):
        with pytest.raises(DestinationForbidden):
            policy.check_address(address)
    with pytest.raises(DestinationForbidden):
        policy.resolve("http://metadata.google.internal/")
