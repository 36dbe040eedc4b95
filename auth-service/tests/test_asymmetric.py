"""RS256 and EdDSA: the auth service signs with the private key; the other services
verify with the public key alone."""

import hashlib
import hmac
import json

import pytest

from auth_service.main import create_app
from shared.jwt import JwtSettings, TokenCodec, TokenError, TokenType
from testkit.database import use_session
from testkit.keys import write_key_pair
from tests.conftest import (
    asgi_client,
    auth_settings,
    b64url,
    jwt_parts,
    login,
    register,
)


@pytest.fixture(params=["RS256", "EdDSA"])
async def signing(request, tmp_path, database_url, session):
    algorithm = request.param
    private, public = write_key_pair(tmp_path, algorithm)
    app = create_app(
        auth_settings(database_url),
        JwtSettings(algorithm=algorithm, private_key_file=private, public_key_file=public),
    )
    use_session(app, session)
    verifier = TokenCodec(JwtSettings(algorithm=algorithm, public_key_file=public))
    async with asgi_client(app) as client:
        yield algorithm, client, verifier, tmp_path
    await app.state.database.dispose()


async def test_tokens_verify_with_the_public_key_alone(signing) -> None:
    algorithm, client, verifier, _ = signing
    user_id = await register(client, "asym@x.io")
    pair = await login(client, "asym@x.io")
    header = jwt_parts(pair["access_token"])[0]
    assert header == {"alg": algorithm, "typ": "at+jwt", "kid": verifier.key_id}
    claims = verifier.verify(pair["access_token"], TokenType.ACCESS)
    assert claims.user_id == user_id
    assert claims.email == "asym@x.io"
    with pytest.raises(TokenError):
        verifier.verify(pair["access_token"], TokenType.REFRESH)
    # The verifier holds no private key: it cannot mint tokens.
    with pytest.raises(RuntimeError):
        verifier.issue(subject="1", email="a@x.io", token_type=TokenType.ACCESS)


async def test_rotation_works_with_asymmetric_keys(signing) -> None:
    _, client, verifier, _ = signing
    await register(client, "asym-rot@x.io")
    pair = await login(client, "asym-rot@x.io")
    response = await client.put("/auth/login/", json=pair)
    assert response.status_code == 200
    verifier.verify(response.json()["access_token"], TokenType.ACCESS)
    assert (await client.put("/auth/login/", json=pair)).status_code == 401  # replay


async def test_a_foreign_private_key_is_refused(signing) -> None:
    algorithm, client, verifier, folder = signing
    await register(client, "asym-foreign@x.io")
    pair = await login(client, "asym-foreign@x.io")
    foreign_private, foreign_public = write_key_pair(folder, algorithm, "foreign")
    foreign = TokenCodec(
        JwtSettings(
            algorithm=algorithm, private_key_file=foreign_private, public_key_file=foreign_public
        ),
        can_sign=True,
    )
    sub = jwt_parts(pair["access_token"])[1]["sub"]
    forged = foreign.issue(subject=sub, email="asym-foreign@x.io", token_type=TokenType.REFRESH)
    with pytest.raises(TokenError):
        verifier.verify(forged.token, TokenType.REFRESH)
    response = await client.put("/auth/login/", json={"refresh_token": forged.token})
    assert response.status_code == 401


async def test_hs256_signed_with_the_public_key_is_refused(signing) -> None:
    """The classic key-confusion attack: the public key used as an HMAC secret."""
    _, client, verifier, folder = signing
    await register(client, "confused@x.io")
    pair = await login(client, "confused@x.io")
    public_pem = (folder / "jwt-public.pem").read_bytes()
    for token, token_type in (
        (pair["access_token"], TokenType.ACCESS),
        (pair["refresh_token"], TokenType.REFRESH),
    ):
        header, payload, _ = jwt_parts(token)
        signing_input = (
            f"{b64url(json.dumps({**header, 'alg': 'HS256'}).encode())}."
            f"{b64url(json.dumps(payload).encode())}"
        )
        signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        forged = f"{signing_input}.{b64url(signature)}"
        with pytest.raises(TokenError):
            verifier.verify(forged, token_type)
    response = await client.put("/auth/login/", json={"refresh_token": forged})
    assert response.status_code == 401


def test_the_auth_service_needs_the_private_key(tmp_path, database_url) -> None:
    _, public = write_key_pair(tmp_path, "EdDSA")
    with pytest.raises(ValueError, match="JWT_PRIVATE_KEY_FILE"):
        create_app(
            auth_settings(database_url), JwtSettings(algorithm="EdDSA", public_key_file=public)
        )
