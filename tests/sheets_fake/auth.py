"""Service-account keys and OAuth clients made for a test, and Google's OAuth endpoints: the
token endpoint's JWT-bearer, authorization-code and refresh-token grants, and the consent page.

What Google answers, and where that was found:
- a JWT-bearer grant whose key was deleted: invalid_grant "Invalid JWT Signature."; whose
  account was deleted: invalid_grant "Invalid grant: account not found"; signed on a PC whose
  clock is off by more than a few minutes: invalid_grant "Invalid JWT: Token must be a
  short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values
  in the JWT claim." (the texts users of google-auth and gspread report in their issue threads);
- a refresh token the person revoked, or one unused for six months: invalid_grant "Token has
  been expired or revoked." (Google's OAuth 2.0 guide, "Refresh token expiration");
- an unknown OAuth client: 401 invalid_client "The OAuth client was not found.";
- the token endpoint briefly down: a 5xx answer, which google-auth retries (its
  `_client._can_retry` names the error codes "internal_failure", "server_error" and
  "temporarily_unavailable" that Google answers with).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EXPIRED_OR_REVOKED = "Token has been expired or revoked."
CLOCK_REFUSAL = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
    " Check your iat and exp values in the JWT claim."
)
PROJECT_ID = "clinic-project"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


class TokenError(Exception):
    """A token request refused: answered 400 {"error", "error_description"}."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Auth:
    """Registered service accounts (email -> public key) and the access tokens handed out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.public_keys: dict[str, rsa.RSAPublicKey] = {}
        self.revoked: set[str] = set()
        self.deleted: set[str] = set()
        self.tokens: dict[str, str] = {}  # access token -> email
        self.token_requests = 0
        # Seconds this PC's clock runs ahead of Google's (negative: behind). Google checks a
        # key's JWT and dates its answers (the HTTP Date header) by its own clock.
        self.pc_clock_ahead = 0.0
        self.outages: list[int] = []  # statuses the next token requests are answered with
        # OAuth clients (client id -> secret), the person who consents in the browser, codes
        # handed out (code -> what was asked), and refresh tokens (token -> (client id, email)).
        self.clients: dict[str, str] = {}
        self.browser_user = "manager@clinic.example"
        self.consents = True
        self.codes: dict[str, dict[str, str]] = {}
        self.refresh_tokens: dict[str, tuple[str, str]] = {}

    def now(self) -> float:
        """Google's time."""
        return time.time() - self.pc_clock_ahead

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

    def delete_account(self, email: str) -> None:
        """The service account was deleted: its keys are refused as "account not found"."""
        with self._lock:
            self.deleted.add(email)
            self.tokens = {t: e for t, e in self.tokens.items() if e != email}

    def grant(
        self, form: dict[str, list[str]], token_uri: str, authorization: str | None = None
    ) -> dict[str, Any]:
        """Answer a token request (JWT bearer, authorization code, refresh token), or raise
        TokenError."""
        with self._lock:
            self.token_requests += 1
            down = self.outages.pop(0) if self.outages else None
        if down is not None:
            raise TokenError("internal_failure", "Backend Error", down)
        grant_type = (form.get("grant_type") or [""])[0]
        if grant_type == "authorization_code":
            return self._code_grant(form, authorization)
        if grant_type == "refresh_token":
            return self._refresh_grant(form, authorization)
        if grant_type != JWT_BEARER:
            raise TokenError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
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
            if email in self.deleted:
                raise TokenError("invalid_grant", "Invalid grant: account not found")
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
        now = self.now()
        if not (payload.get("iat", 0) - 300 <= now <= payload.get("exp", 0) + 300):
            raise TokenError("invalid_grant", CLOCK_REFUSAL)
        return {"access_token": self.issue(email), "expires_in": 3600, "token_type": "Bearer"}

    # --- a person's consent: OAuth clients, the consent page, codes and refresh tokens ------

    def make_client(self, folder: Path, token_uri: str, auth_uri: str) -> Path:
        """Write an OAuth client file as the Cloud console's "Download JSON" for a Desktop app
        client gives it (`{"installed": {...}}`), its endpoints this fake; register it."""
        client_id = f"{secrets.randbelow(10**12)}-fake.apps.googleusercontent.com"
        secret = "GOCSPX-" + secrets.token_urlsafe(21)
        with self._lock:
            self.clients[client_id] = secret
        info = {
            "installed": {
                "client_id": client_id,
                "project_id": PROJECT_ID,
                "auth_uri": auth_uri,
                "token_uri": token_uri,
                "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                "client_secret": secret,
                "redirect_uris": ["http://localhost"],
            }
        }
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"client_secret_{client_id}.json"
        path.write_text(json.dumps(info), encoding="utf-8")
        return path

    def consent_redirect(self, query: dict[str, list[str]]) -> str:
        """The consent page, after `browser_user` clicked Allow (or Cancel, when `consents`
        is False): where the browser is sent back to, with a code or an error. Only a
        loopback redirect is accepted for a Desktop client, as Google does."""

        def one(name: str) -> str:
            return (query.get(name) or [""])[0]

        redirect = one("redirect_uri")
        host = urlsplit(redirect).hostname or ""
        if one("client_id") not in self.clients:
            raise TokenError("invalid_client", "The OAuth client was not found.", 401)
        if one("response_type") != "code" or host not in ("localhost", "127.0.0.1", "::1"):
            raise TokenError("invalid_request", "redirect_uri_mismatch")
        answer = {"state": one("state")}
        if not self.consents:
            answer["error"] = "access_denied"
        else:
            code = "4/0fake-" + secrets.token_urlsafe(24)
            with self._lock:
                self.codes[code] = {
                    "client_id": one("client_id"),
                    "redirect_uri": redirect,
                    "scope": one("scope"),
                    "challenge": one("code_challenge"),
                    "method": one("code_challenge_method") or "plain",
                    "email": self.browser_user,
                }
            answer |= {"code": code, "scope": one("scope")}
        return f"{redirect}?{urlencode(answer)}"

    def _client(self, form: dict[str, list[str]], authorization: str | None) -> str:
        """The client id, its secret checked: from the form, or HTTP Basic (RFC 6749 §2.3.1)."""
        client_id = (form.get("client_id") or [""])[0]
        secret = (form.get("client_secret") or [""])[0]
        if authorization and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[len("Basic ") :]).decode()
            client_id, _, secret = decoded.partition(":")
        with self._lock:
            known = self.clients.get(client_id)
        if known is None:
            raise TokenError("invalid_client", "The OAuth client was not found.", 401)
        if secret != known:
            raise TokenError("invalid_client", "Unauthorized", 401)
        return client_id

    def _code_grant(self, form: dict[str, list[str]], authorization: str | None) -> dict[str, Any]:
        client_id = self._client(form, authorization)
        with self._lock:
            asked = self.codes.pop((form.get("code") or [""])[0], None)  # a code works once
        if asked is None or asked["client_id"] != client_id:
            raise TokenError("invalid_grant", "Malformed auth code.")
        if (form.get("redirect_uri") or [""])[0] != asked["redirect_uri"]:
            raise TokenError("redirect_uri_mismatch", "Bad Request")
        verifier = (form.get("code_verifier") or [""])[0]
        if asked["method"] == "S256":
            digest = hashlib.sha256(verifier.encode("ascii")).digest()
            verifier = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
        if asked["challenge"] and verifier != asked["challenge"]:
            raise TokenError("invalid_grant", "Invalid code verifier.")
        refresh = "1//0fake-" + secrets.token_urlsafe(32)
        with self._lock:
            self.refresh_tokens[refresh] = (client_id, asked["email"])
        return {
            "access_token": self.issue(asked["email"]),
            "expires_in": 3599,
            "refresh_token": refresh,
            "scope": asked["scope"],
            "token_type": "Bearer",
        }

    def _refresh_grant(
        self, form: dict[str, list[str]], authorization: str | None
    ) -> dict[str, Any]:
        client_id = self._client(form, authorization)
        with self._lock:
            known = self.refresh_tokens.get((form.get("refresh_token") or [""])[0])
        if known is None or known[0] != client_id:
            raise TokenError("invalid_grant", EXPIRED_OR_REVOKED)
        return {
            "access_token": self.issue(known[1]),
            "expires_in": 3599,
            "scope": "https://www.googleapis.com/auth/spreadsheets",
            "token_type": "Bearer",
        }

    def revoke_consent(self, email: str) -> None:
        """The person removed the app's access (myaccount.google.com > Security): their
        refresh tokens and access tokens stop working."""
        with self._lock:
            self.refresh_tokens = {
                t: held for t, held in self.refresh_tokens.items() if held[1] != email
            }
            self.tokens = {t: e for t, e in self.tokens.items() if e != email}

    def email_for(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        with self._lock:
            return self.tokens.get(authorization[len("Bearer ") :].strip())

    def issue(self, email: str) -> str:
        """A new access token for `email` (raw-HTTP tests call it to skip the OAuth round trip)."""
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = email
        return token
