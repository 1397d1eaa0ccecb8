"""A throw-away PKI for loopback runs (`metahrl demo --tls`, the tests): a CA valid for one day,
a server certificate for localhost / 127.0.0.1 and a DU client certificate, made with
`cryptography` in the run, never committed. Production deployments bring their own
certificates (cert-manager, the operator's CA)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Pki", "PkiFiles", "make_pki"]


@dataclass(frozen=True)
class PkiFiles:
    """Where :meth:`Pki.write` put the PEM files."""

    ca_cert: Path
    server_key: Path
    server_cert: Path
    client_key: Path
    client_cert: Path


@dataclass(frozen=True)
class Pki:
    """PEM bytes of the CA certificate and of the server and client keys and certificates."""

    ca_cert: bytes
    server_key: bytes
    server_cert: bytes
    client_key: bytes
    client_cert: bytes

    def write(self, directory: Path) -> PkiFiles:
        """Write every file into ``directory`` (keys readable by the owner only)."""
        directory.mkdir(parents=True, exist_ok=True)
        files = PkiFiles(*(directory / n for n in ("ca.pem", "server.key", "server.pem", "du.key", "du.pem")))
        for path, data in zip(
            (files.ca_cert, files.server_key, files.server_cert, files.client_key, files.client_cert),
            (self.ca_cert, self.server_key, self.server_cert, self.client_key, self.client_cert),
            strict=True,
        ):
            path.write_bytes(data)
            if path.suffix == ".key":
                path.chmod(0o600)
        return files


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
    """A fresh CA and its server and client certificates."""
    ca_key = _key()
    ca_name = _name("metahrl loopback CA")
    ca = (
        _builder("metahrl loopback CA", ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key, server_cert = _leaf("localhost", ca_key, ca_name, ExtendedKeyUsageOID.SERVER_AUTH, True)
    client_key, client_cert = _leaf(client_cn, ca_key, ca_name, ExtendedKeyUsageOID.CLIENT_AUTH, False)
    return Pki(ca.public_bytes(serialization.Encoding.PEM), server_key, server_cert, client_key, client_cert)
