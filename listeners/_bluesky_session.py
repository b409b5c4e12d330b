"""Bluesky's app-password session and the XRPC GET behind every call.

`Session` holds BlueskyListener's login (a mixin: the listener supplies `ctx`,
`options` and `base_url`): createSession once per process, the session kept in
`ctx.state`, refreshSession when the access JWT is about to expire or a call
says it has, and without credentials the public host. Why (createSession's
limits, the public host's 403s) is described in listeners/bluesky.py.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from listeners import _http
from listeners.base import Context, SourceError

if TYPE_CHECKING:  # the listener module imports this one
    from listeners.bluesky import BlueskyOptions


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT (read, not verified: we only need to know when to refresh)."""
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return _http.epoch(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


class Session:
    """BlueskyListener's session and authenticated GET (mixed into the listener)."""

    ctx: Context
    options: BlueskyOptions
    base_url: str

    def _credentials(self) -> tuple[str, str] | None:
        ident, pw = self.ctx.secret("identifier_env"), self.ctx.secret("password_env")
        return (ident, pw) if ident and pw else None

    def _session(self, force_refresh: bool = False) -> dict[str, Any] | None:
        creds = self._credentials()
        if creds is None:
            return None
        key = f"bluesky:session:{self.base_url}:{creds[0]}"
        session = self.ctx.state.get(key)
        now = self.ctx.clock()
        if session is None:
            session = self._login(*creds)
        elif force_refresh or now >= session["expires_at"] - timedelta(seconds=60):
            try:
                session = self._xrpc_session("refreshSession", session["refreshJwt"], None)
            except SourceError as exc:
                if exc.kind == "rate_limited":
                    raise
                session = self._login(*creds)  # refresh token expired or revoked
        self.ctx.state[key] = session
        return session

    def _login(self, identifier: str, password: str) -> dict[str, Any]:
        try:
            return self._xrpc_session(
                "createSession", None, {"identifier": identifier, "password": password}
            )
        except SourceError as exc:
            if exc.kind == "needs_credentials":
                raise SourceError(
                    "needs_credentials",
                    "Bluesky login failed: check identifier_env and password_env (app password)",
                ) from exc
            raise

    def _xrpc_session(self, method: str, bearer: str | None, body: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        resp = _http.request(
            self.ctx,
            "POST",
            f"{self.base_url}/xrpc/com.atproto.server.{method}",
            json=body,
            headers=headers,
            attempts=2,
        )
        try:
            data = resp.json()
            access, refresh = str(data["accessJwt"]), str(data["refreshJwt"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError("bad_payload", f"Bluesky {method} sent no tokens") from exc
        expires = jwt_expiry(access) or self.ctx.clock() + timedelta(minutes=5)
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "did": data.get("did"),
            "expires_at": expires,
        }

    # -- HTTP -----------------------------------------------------------------------
    def _get(self, method: str, params: Any) -> Any:
        session = self._session()
        if session is None:
            try:
                return _http.get_json(
                    self.ctx, f"{self.options.public_url}/xrpc/{method}", params=params
                )
            except SourceError as exc:
                if exc.kind in ("needs_credentials", "blocked"):
                    raise SourceError(
                        "needs_credentials",
                        f"Bluesky's public API refused {method} (403); set identifier_env "
                        "and password_env to log in with an app password",
                    ) from exc
                raise
        url = f"{self.base_url}/xrpc/{method}"
        try:
            return _http.get_json(
                self.ctx,
                url,
                params=params,
                headers={"Authorization": f"Bearer {session['accessJwt']}"},
            )
        except SourceError as exc:
            # 401, or 400 {"error": "ExpiredToken"}: the access token expired or was revoked
            if exc.kind != "needs_credentials" and "HTTP 400" not in exc.message:
                raise
            session = self._session(force_refresh=True)
            assert session is not None
            return _http.get_json(
                self.ctx,
                url,
                params=params,
                headers={"Authorization": f"Bearer {session['accessJwt']}"},
            )
