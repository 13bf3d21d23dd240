"""A small OCI distribution-API client over httpx, shared by the puller and the pusher.

It picks the scheme (plain HTTP only for hosts in the insecure list, and never with
credentials), answers `401` challenges (anonymous or Basic-authenticated bearer tokens from
`WWW-Authenticate`, or Basic auth over HTTPS from OCI_USERNAME/OCI_PASSWORD), and retries
transient failures. Every httpx exception is translated by `_errors.httpx_errors`.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from greentic.errors import FetchError
from greentic.fetch._errors import httpx_errors, status_error
from greentic.fetch._refs import INSECURE_VAR, OciRef
from greentic.fetch._retry import with_retries

if TYPE_CHECKING:
    import httpx

CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')


def credentials() -> tuple[str, str] | None:
    """OCI_USERNAME/OCI_PASSWORD when both are set (never logged)."""
    user, password = os.environ.get("OCI_USERNAME"), os.environ.get("OCI_PASSWORD")
    return (user, password) if user and password else None


def choose_scheme(registry: str, insecure: frozenset[str], creds: tuple[str, str] | None) -> str:
    """`http` only for an exactly listed `host[:port]` and only without credentials."""
    return "http" if registry in insecure and creds is None else "https"


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """(`bearer`|`basic`|…, params) of a `WWW-Authenticate` header."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(CHALLENGE_RE.findall(rest))


class Registry:
    """One registry host. Example: `with Registry.open(ref, insecure=…) as reg: reg.get(...)`."""

    def __init__(
        self,
        client: httpx.Client,
        ref: OciRef,
        *,
        scheme: str,
        creds: tuple[str, str] | None,
        timeout: float,
        attempts: int,
        sleep: Callable[[float], None],
        action: str,
    ) -> None:
        self.client = client
        self.ref = ref
        self.base = f"{scheme}://{ref.registry}"
        self.scheme = scheme
        self.creds = creds
        self.timeout = timeout
        self.attempts = attempts
        self.sleep = sleep
        self.what = f"{action} {ref}"
        self._auth: dict[str, str] = {}
        self.hint = (
            ""
            if scheme == "http"
            else f"; this went over HTTPS: if `{ref.registry}` is a plain-HTTP registry, "
            f"list it in {INSECURE_VAR}"
            + (" (or pass --insecure to `gtc bundle push`)" if action == "pushing to" else "")
        )

    @classmethod
    @contextmanager
    def open(
        cls,
        ref: OciRef,
        *,
        insecure: frozenset[str],
        transport: httpx.BaseTransport | None,
        timeout: float,
        attempts: int,
        sleep: Callable[[float], None],
        action: str,
    ) -> Iterator[Registry]:
        import httpx

        creds = credentials()
        scheme = choose_scheme(ref.registry, insecure, creds)
        with httpx.Client(transport=transport, follow_redirects=True, timeout=timeout) as client:
            yield cls(
                client,
                ref,
                scheme=scheme,
                creds=creds,
                timeout=timeout,
                attempts=attempts,
                sleep=sleep,
                action=action,
            )

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.base}{path}"

    def _token(self, params: dict[str, str], scope: str) -> str:
        import httpx

        realm = params.get("realm")
        if not realm:
            raise FetchError(f"{self.what}: the registry's bearer challenge has no realm")
        query = {"scope": params.get("scope", scope)}
        if "service" in params:
            query["service"] = params["service"]
        auth = None
        if self.creds is not None and urlsplit(realm).scheme == "https":
            auth = httpx.BasicAuth(*self.creds)
        with httpx_errors(f"{self.what}: token request", timeout=self.timeout):
            resp = self.client.get(realm, params=query, auth=auth)
        if resp.status_code != 200:
            raise status_error(f"{self.what}: token request", resp.status_code, resp.reason_phrase)
        try:
            doc = resp.json()
        except ValueError:
            raise FetchError(f"{self.what}: the token endpoint did not answer JSON") from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise FetchError(f"{self.what}: the token endpoint answered no token")
        return token

    def _authorize(self, resp: httpx.Response, scope: str) -> None:
        kind, params = parse_challenge(resp.headers.get("www-authenticate", ""))
        if kind == "bearer":
            self._auth[scope] = f"Bearer {self._token(params, scope)}"
        elif kind == "basic" and self.creds is not None and self.scheme == "https":
            user, password = self.creds
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._auth[scope] = f"Basic {token}"
        else:
            raise FetchError(
                f"{self.what}: the registry requires authentication",
                hint="set OCI_USERNAME and OCI_PASSWORD (sent over HTTPS only)",
            )

    def send(
        self,
        method: str,
        path: str,
        *,
        scope: str,
        headers: Mapping[str, str] | None = None,
        content: Callable[[], Any] | bytes | None = None,
        stream: bool = False,
        ok: tuple[int, ...] = (200,),
        retry: bool = True,
    ) -> httpx.Response:
        """One request with auth and retries; returns a response with a status in `ok`.

        `content` may be a zero-argument factory (a fresh body per attempt). A streamed
        response must be closed by the caller. `retry=False` when the caller retries a larger
        unit (a blob download including its body).
        """

        def attempt() -> httpx.Response:
            for _ in range(2):  # second pass after answering an auth challenge
                hdrs = dict(headers or {})
                if scope in self._auth:
                    hdrs["Authorization"] = self._auth[scope]
                body = content() if callable(content) else content
                with httpx_errors(self.what, timeout=self.timeout, hint=self.hint):
                    request = self.client.build_request(
                        method, self.url(path), headers=hdrs, content=body
                    )
                    resp = self.client.send(request, stream=stream)
                if resp.status_code == 401 and scope not in self._auth:
                    resp.close()
                    self._authorize(resp, scope)
                    continue
                if resp.status_code not in ok:
                    detail = _error_detail(resp) if not stream else ""
                    resp.close()
                    raise status_error(self.what, resp.status_code, resp.reason_phrase + detail)
                return resp
            raise FetchError(f"{self.what}: the registry refused the credentials it asked for")

        return (
            with_retries(attempt, attempts=self.attempts, sleep=self.sleep) if retry else attempt()
        )


def _error_detail(resp: httpx.Response) -> str:
    """The first `errors[].message` of a distribution-API error body, if any."""
    try:
        errors = resp.json().get("errors") or []
        return f" ({errors[0].get('code', '')}: {errors[0].get('message', '')})" if errors else ""
    except (ValueError, AttributeError, IndexError):
        return ""
