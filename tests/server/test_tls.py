"""The self-signed certificate is a server leaf for the names it is served under; the key, the
store and the data directory are private to their owner."""

from __future__ import annotations

import datetime
import logging
import ssl
import stat
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tests.conftest import StartServer

from tickgate.server.tls import CERT_NAME, KEY_NAME, certificate_names, ensure_certificate

NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def alt_names(certificate: x509.Certificate) -> set[str]:
    alt = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(alt.get_values_for_type(x509.DNSName)) | {
        str(ip) for ip in alt.get_values_for_type(x509.IPAddress)
    }


def test_the_certificate_is_a_server_leaf_naming_where_it_is_served(tmp_path: Path) -> None:
    cert_path, key_path = ensure_certificate(
        tmp_path / "data", names=certificate_names("10.1.2.3", "gw.example"), now=NOW
    )
    certificate = load(cert_path)
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is False
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign and not usage.crl_sign
    extended = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(extended) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert alt_names(certificate) == {"localhost", "127.0.0.1", "::1", "10.1.2.3", "gw.example"}
    assert (mode(tmp_path / "data"), mode(key_path), mode(cert_path)) == (0o700, 0o600, 0o600)


def test_wildcard_binds_add_no_name() -> None:
    assert certificate_names("0.0.0.0", "::", "[::1]") == ("localhost", "127.0.0.1", "::1")


def test_a_kept_certificate_is_reused(tmp_path: Path) -> None:
    cert_path, _ = ensure_certificate(tmp_path, now=NOW)
    first = cert_path.read_bytes()
    ensure_certificate(tmp_path, now=NOW + datetime.timedelta(days=30))
    assert cert_path.read_bytes() == first


def old_ca_certificate(directory: Path) -> None:
    """What earlier versions wrote: CA:TRUE, no key usage, key chmod-ed after writing."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tickgate localhost")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(mode=0o755)
    (directory / KEY_NAME).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (directory / CERT_NAME).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def test_an_old_ca_certificate_is_replaced_and_the_log_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "data"
    old_ca_certificate(directory)
    with caplog.at_level(logging.WARNING, "tickgate.server"):
        cert_path, key_path = ensure_certificate(directory, now=NOW)
    replaced = load(cert_path)
    assert replaced.serial_number != 1
    assert replaced.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert any("CA certificate" in r.getMessage() for r in caplog.records)
    assert (mode(directory), mode(key_path)) == (0o700, 0o600)


def test_a_certificate_missing_a_served_name_or_expiring_is_replaced(tmp_path: Path) -> None:
    cert_path, _ = ensure_certificate(tmp_path, now=NOW)
    serial = load(cert_path).serial_number
    ensure_certificate(tmp_path, names=certificate_names("gw.example"), now=NOW)
    assert load(cert_path).serial_number != serial
    assert "gw.example" in alt_names(load(cert_path))
    serial = load(cert_path).serial_number
    ensure_certificate(
        tmp_path, names=certificate_names("gw.example"), now=NOW + datetime.timedelta(days=3650)
    )
    assert load(cert_path).serial_number != serial


async def test_a_served_gateway_keeps_its_state_private_and_verifies_as_pinned(
    start: StartServer, tmp_path: Path
) -> None:
    server = await start(tls=True)
    data = server.gateway.config.data_dir
    store = data / "trading.sqlite3"
    assert mode(data) == 0o700
    assert mode(store) == 0o600 and mode(store.with_name(store.name + "-wal")) == 0o600
    # A client that pins the certificate verifies the server under each loopback name.
    pinned = ssl.create_default_context(cafile=str(data / CERT_NAME))
    async with aiohttp.ClientSession() as client:
        for host in ("localhost", "127.0.0.1"):
            url = f"https://{host}:{server.port}/v1/api/tickle"
            async with client.post(url, ssl=pinned) as response:
                assert response.status == 200
