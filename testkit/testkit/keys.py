"""Signing keys for the tests of asymmetric JWTs."""

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa


def write_key_pair(folder: Path, algorithm: str = "EdDSA", name: str = "jwt") -> tuple[Path, Path]:
    """A new key pair for `algorithm` (RS256 or EdDSA), written to `folder` as
    `{name}-private.pem` (PKCS#8) and `{name}-public.pem`: (private, public)."""
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS256"
        else ed25519.Ed25519PrivateKey.generate()
    )
    private, public = folder / f"{name}-private.pem", folder / f"{name}-public.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public
