"""Service-account keys made for a test, and the OAuth token endpoint's JWT-bearer grant."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PROJECT_ID = "clinic-project"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


class TokenError(Exception):
    """A token request refused: answered 400 {"error", "error_description"}."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Auth:
    """Registered service accounts (email -> public key) and the access tokens handed out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.public_keys: dict[str, rsa.RSAPublicKey] = {}
        self.revoked: set[str] = set()
        self.tokens: dict[str, str] = {}  # access token -> email
        self.token_requests = 0

    def make_key(self, folder: Path, email: str, token_uri: str) -> Path:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        with self._lock:
            self.public_keys[email] = key.public_key()
            self.revoked.discard(email)
        info = {
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": email,
            "client_id": str(secrets.randbelow(10**21)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
            + email.replace("@", "%40"),
            "universe_domain": "googleapis.com",
        }
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{email.split('@')[0]}-key.json"
        path.write_text(json.dumps(info, indent=2), encoding="utf-8")
        return path

    def revoke(self, email: str) -> None:
        with self._lock:
            self.revoked.add(email)
            self.tokens = {t: e for t, e in self.tokens.items() if e != email}

    def grant(self, form: dict[str, list[str]], token_uri: str) -> dict[str, Any]:
        """Answer a JWT-bearer grant, or raise TokenError."""
        with self._lock:
            self.token_requests += 1
        if form.get("grant_type") != [JWT_BEARER]:
            raise TokenError("unsupported_grant_type", "Invalid grant_type: ")
        assertion = (form.get("assertion") or [""])[0]
        parts = assertion.split(".")
        if len(parts) != 3:
            raise TokenError("invalid_grant", "Invalid JWT: Token must be a short-lived token")
        try:
            header = json.loads(b64url_decode(parts[0]))
            payload = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError:
            raise TokenError("invalid_grant", "Invalid JWT Signature.") from None
        if header.get("alg") != "RS256":
            raise TokenError("invalid_grant", "Invalid JWT Signature.")
        email = payload.get("iss")
        with self._lock:
            public = self.public_keys.get(email)
            revoked = email in self.revoked
        if public is None or revoked:
            raise TokenError("invalid_grant", "Invalid JWT Signature.")
        try:
            public.verify(
                signature,
                f"{parts[0]}.{parts[1]}".encode("ascii"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise TokenError("invalid_grant", "Invalid JWT Signature.") from None
        # google-auth always signs aud=https://oauth2.googleapis.com/token, whatever token_uri is
        if payload.get("aud") not in (token_uri, GOOGLE_TOKEN_URI):
            raise TokenError("invalid_grant", "Invalid JWT: Failed audience check.")
        now = time.time()
        if not (payload.get("iat", 0) - 300 <= now <= payload.get("exp", 0) + 300):
            raise TokenError(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a"
                " reasonable timeframe. Check your iat and exp values in the JWT claim.",
            )
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = email
        return {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def email_for(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        with self._lock:
            return self.tokens.get(authorization[len("Bearer ") :].strip())

    def issue(self, email: str) -> str:
        """An access token without the OAuth round trip (for raw-HTTP tests)."""
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = email
        return token
