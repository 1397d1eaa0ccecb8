"""Test PKI generated in the test run (`cryptography`): a CA, a server certificate for
localhost/127.0.0.1 and DU client certificates; nothing is committed."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Pki", "make_pki"]


@dataclass(frozen=True)
class Pki:
    ca_cert: bytes
    server_key: bytes
    server_cert: bytes
    client_key: bytes
    client_cert: bytes


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )


def _leaf(
    cn: str, ca: ec.EllipticCurvePrivateKey, ca_name: x509.Name, usage: x509.ObjectIdentifier, server: bool
) -> tuple[bytes, bytes]:
    key = _key()
    b = _builder(cn, ca_name, key).add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        sans: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = b.sign(ca, hashes.SHA256())
    return _pem_key(key), cert.public_bytes(serialization.Encoding.PEM)


def make_pki(client_cn: str = "du-0") -> Pki:
    ca_key = _key()
    ca_name = _name("metahrl test CA")
    ca = (
        _builder("metahrl test CA", ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key, server_cert = _leaf("localhost", ca_key, ca_name, ExtendedKeyUsageOID.SERVER_AUTH, True)
    client_key, client_cert = _leaf(client_cn, ca_key, ca_name, ExtendedKeyUsageOID.CLIENT_AUTH, False)
    return Pki(ca.public_bytes(serialization.Encoding.PEM), server_key, server_cert, client_key, client_cert)
