"""A small PKI for TLS tests, generated at run time: a CA, a server certificate for 127.0.0.1 and
`upstream.test` signed by it, a client certificate (mutual TLS) and a self-signed stranger."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAMES = [x509.DNSName("upstream.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(
    subject: str,
    key: Any,
    issuer: tuple[x509.Certificate, Any] | None,
    *,
    ca: bool = False,
    names: list[x509.GeneralName] | None = None,
    client: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[0].subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if client:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _pem(path: Path, *items: Any) -> str:
    data = b""
    for item in items:
        if isinstance(item, x509.Certificate):
            data += item.public_bytes(serialization.Encoding.PEM)
        else:
            data += item.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
    path.write_bytes(data)
    return str(path)


def make_pki(folder: Path) -> dict[str, str]:
    """PEM file paths: `ca`; `server` (certificate and key); `client`, `client_key`; `stranger`
    (a self-signed certificate and key for 127.0.0.1, in no bundle)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("babelgate test CA", ca_key, None, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("upstream.test", server_key, (ca, ca_key), names=SERVER_NAMES)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("babelgate", client_key, (ca, ca_key), client=True)
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger = _cert("stranger", stranger_key, None, names=SERVER_NAMES)
    return {
        "ca": _pem(folder / "ca.pem", ca),
        "server": _pem(folder / "server.pem", server, server_key),
        "client": _pem(folder / "client.pem", client),
        "client_key": _pem(folder / "client.key", client_key),
        "stranger": _pem(folder / "stranger.pem", stranger, stranger_key),
    }


def server_context(
    pki: dict[str, str], *, client_certificate: ssl.VerifyMode = ssl.CERT_NONE, certificate: str = "server"
) -> ssl.SSLContext:
    """A server's context; `client_certificate` CERT_OPTIONAL or CERT_REQUIRED checks clients'
    certificates against the CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki[certificate])
    if client_certificate != ssl.CERT_NONE:
        context.verify_mode = client_certificate
        context.load_verify_locations(pki["ca"])
    return context
