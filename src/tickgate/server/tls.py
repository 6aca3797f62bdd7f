"""Self-signed TLS, like the real gateway: a certificate is made on first start and kept.

The certificate is a leaf (`CA:FALSE`, server authentication only), so a client that chooses to
trust it cannot be made to trust anything it signs, and it names exactly the names it is served
under. Its key is written owner-only from the first byte (`datadir.write_private`).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import ssl
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tickgate import access, datadir

log = logging.getLogger("tickgate.server")

CERT_NAME, KEY_NAME = datadir.CERT_NAME, datadir.KEY_NAME
#: Names every certificate carries: the loopback names clients use by default.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
VALIDITY = datetime.timedelta(days=3650)


def certificate_names(*extra: str) -> tuple[str, ...]:
    """The loopback names plus `extra` (the bound host, allowed host names), without
    wildcards, duplicates or a `*`, in a stable order."""
    names = [*LOOPBACK_NAMES, *(name.strip().lower().strip("[]") for name in extra)]
    # Addresses meaning "every interface" are not names a client connects to.
    return tuple(dict.fromkeys(name for name in names if name not in access.WILDCARD_HOSTS))


def ensure_certificate(
    data_dir: Path, *, names: Iterable[str] = LOOPBACK_NAMES, now: datetime.datetime | None = None
) -> tuple[Path, Path]:
    """Return (certificate, key) paths in `data_dir`, creating a self-signed pair if needed.

    A kept certificate is replaced (and the log says why) when it is a CA, was not made for
    server authentication, lacks one of `names`, or has expired or will within a day. Raises
    OSError when the directory cannot be written.
    """
    wanted = tuple(names)
    moment = now or datetime.datetime.now(datetime.UTC)
    cert_path, key_path = data_dir / CERT_NAME, data_dir / KEY_NAME
    if cert_path.exists() and key_path.exists():
        reason = replacement_reason(
            x509.load_pem_x509_certificate(cert_path.read_bytes()), wanted, moment
        )
        if reason is None:
            return cert_path, key_path
        log.warning("replacing the TLS certificate in %s: %s", data_dir, reason)
    datadir.prepare_data_dir(data_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    datadir.write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    certificate = self_signed(key, wanted, moment)
    datadir.write_private(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def replacement_reason(
    certificate: x509.Certificate, names: Iterable[str], now: datetime.datetime
) -> str | None:
    """Why `certificate` must not be served for `names` any more, or None when it is fine."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        if constraints.value.ca:
            return "it is a CA certificate (CA:TRUE); a leaf is made instead"
    except x509.ExtensionNotFound:
        pass
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return "it does not limit its use to server authentication"
    if list(usages) != [ExtendedKeyUsageOID.SERVER_AUTH]:
        return "it is not limited to server authentication"
    missing = [name for name in names if name not in _subject_names(certificate)]
    if missing:
        return f"it does not name {', '.join(missing)}"
    if certificate.not_valid_after_utc - now < datetime.timedelta(days=1):
        return "it has expired or expires within a day"
    return None


def _subject_names(certificate: x509.Certificate) -> set[str]:
    try:
        alt = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {name.lower() for name in alt.get_values_for_type(x509.DNSName)} | {
        str(address) for address in alt.get_values_for_type(x509.IPAddress)
    }


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def self_signed(
    key: ec.EllipticCurvePrivateKey, names: Iterable[str], now: datetime.datetime
) -> x509.Certificate:
    """A self-signed server leaf for `names`, valid from a day before `now` for ten years."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tickgate localhost")])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName([_general_name(name) for name in names]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def server_ssl_context(data_dir: Path, *, names: Iterable[str] = LOOPBACK_NAMES) -> ssl.SSLContext:
    """An SSL context serving the data directory's certificate (created or replaced as needed)."""
    cert_path, key_path = ensure_certificate(data_dir, names=names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context
