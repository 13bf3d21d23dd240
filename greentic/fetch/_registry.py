"""A small OCI distribution-API client over httpx, shared by the puller and the pusher.

It picks the scheme (plain HTTP only for hosts in the insecure list, and never with
credentials), answers `401` challenges (anonymous or Basic-authenticated bearer tokens from
`WWW-Authenticate`, or Basic auth over HTTPS from OCI_USERNAME/OCI_PASSWORD), and retries
transient failures. Credentials go to a token realm only on the registry's own host or one
listed in $GREENTIC_OCI_TOKEN_REALM_HOSTS; other realms get an anonymous token request. Every
body is read under a cap (`_stream`), every request within the pull's deadline, and every
httpx exception is translated by `_errors.httpx_errors`.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from greentic.errors import FetchError
from greentic.fetch._deadline import Deadline
from greentic.fetch._errors import httpx_errors, status_error
from greentic.fetch._http import lazy_trust
from greentic.fetch._refs import (
    INSECURE_VAR,
    REALM_HOSTS_VAR,
    OciRef,
    parse_realm_hosts,
    realm_gets_credentials,
)
from greentic.fetch._retry import with_retries
from greentic.fetch._stream import open_response, read_capped

if TYPE_CHECKING:
    import httpx

CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')
MAX_TOKEN_RESPONSE = 1024 * 1024  # real tokens are a few KiB
MAX_ERROR_BODY = 64 * 1024  # only the first `errors[].message` is shown


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


def basic_auth(creds: tuple[str, str]) -> str:
    user, password = creds
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Registry:
    """One registry host. Example: `with Registry.open(ref, insecure=…) as reg: reg.send(...)`."""

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
        deadline: Deadline,
        realm_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self.client = client
        self.ref = ref
        self.base = f"{scheme}://{ref.registry}"
        self.scheme = scheme
        self.creds = creds
        self.timeout = timeout
        self.attempts = attempts
        self.sleep = sleep
        self.deadline = deadline
        self.realm_hosts = realm_hosts
        self.what = f"{action} {ref}"
        self._auth: dict[str, str] = {}
        self._withheld = ""  # a hint once credentials were kept from a foreign token realm
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
        deadline: Deadline | None = None,
    ) -> Iterator[Registry]:
        import httpx

        creds = credentials()
        realm_hosts = parse_realm_hosts(os.environ.get(REALM_HOSTS_VAR))
        scheme = choose_scheme(ref.registry, insecure, creds)
        # Redirects are followed by `_stream.open_response`; identity: bodies are decoded by us.
        # Lazy trust: a plain-HTTP (insecure) registry never loads the CA bundle (#16).
        with httpx.Client(
            transport=transport,
            timeout=timeout,
            headers={"Accept-Encoding": "identity"},
            verify=lazy_trust(),
        ) as client:
            yield cls(
                client,
                ref,
                scheme=scheme,
                creds=creds,
                timeout=timeout,
                attempts=attempts,
                sleep=sleep,
                action=action,
                deadline=deadline or Deadline.unbounded(f"{action} {ref}"),
                realm_hosts=realm_hosts,
            )

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.base}{path}"

    def _token_headers(self, realm: str) -> dict[str, str]:
        """Basic credentials only for an HTTPS realm on the registry's host or an allowed one."""
        if self.creds is None:
            return {}
        if realm_gets_credentials(realm, self.ref.registry, self.realm_hosts):
            return {"Authorization": basic_auth(self.creds)}
        host = urlsplit(realm).netloc.rsplit("@", 1)[-1]
        self._withheld = (
            f"; OCI_USERNAME/OCI_PASSWORD were not sent to the token realm `{host}` because it "
            f"is not the registry's host: if you trust it, list it in {REALM_HOSTS_VAR}"
            if urlsplit(realm).scheme == "https"
            else f"; OCI_USERNAME/OCI_PASSWORD are never sent to the plain-HTTP realm `{host}`"
        )
        return {}

    def _token(self, params: dict[str, str], scope: str) -> str:
        import httpx

        realm = params.get("realm")
        if not realm:
            raise FetchError(f"{self.what}: the registry's bearer challenge has no realm")
        query = {"scope": params.get("scope", scope)}
        if "service" in params:
            query["service"] = params["service"]
        what = f"{self.what}: token request"
        headers = self._token_headers(realm)
        with httpx_errors(what, timeout=self.timeout, deadline=self.deadline):
            url = httpx.URL(realm).copy_merge_params(query)
            resp = open_response(
                self.client,
                "GET",
                url,
                headers=headers,
                timeout=self.deadline.timeout(self.timeout),
                what=what,
            )
            try:
                if resp.status_code != 200:
                    raise status_error(
                        what, resp.status_code, resp.reason_phrase, hint=self._withheld
                    )
                body = read_capped(
                    resp,
                    cap=MAX_TOKEN_RESPONSE,
                    what=what,
                    label="token response",
                    deadline=self.deadline,
                )
            finally:
                resp.close()
        try:
            doc = json.loads(body)
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
            self._auth[scope] = basic_auth(self.creds)
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
        response is unread and must be closed by the caller (read it with `_stream`); any
        other is returned with its body drained and closed (headers only). `retry=False` when
        the caller retries a larger unit (a blob download including its body).
        """

        def attempt() -> httpx.Response:
            for _ in range(2):  # second pass after answering an auth challenge
                hdrs = dict(headers or {})
                if scope in self._auth:
                    hdrs["Authorization"] = self._auth[scope]
                with httpx_errors(
                    self.what, timeout=self.timeout, hint=self.hint, deadline=self.deadline
                ):
                    resp = open_response(
                        self.client,
                        method,
                        self.url(path),
                        headers=hdrs,
                        content=content,
                        timeout=self.deadline.timeout(self.timeout),
                        what=self.what,
                    )
                if resp.status_code == 401 and scope not in self._auth:
                    resp.close()
                    self._authorize(resp, scope)
                    continue
                if resp.status_code not in ok:
                    detail = self._error_detail(resp)
                    resp.close()
                    raise status_error(self.what, resp.status_code, resp.reason_phrase + detail)
                if not stream:
                    self._drain(resp)
                return resp
            raise FetchError(
                f"{self.what}: the registry refused the credentials it asked for{self._withheld}"
            )

        if not retry:
            return attempt()
        return with_retries(
            attempt, attempts=self.attempts, sleep=self.sleep, deadline=self.deadline
        )

    def _error_detail(self, resp: httpx.Response) -> str:
        """The first `errors[].message` of a distribution-API error body, if any (read capped)."""
        import httpx

        try:
            body = read_capped(
                resp, cap=MAX_ERROR_BODY, what=self.what, label="error", deadline=self.deadline
            )
            errors = json.loads(body).get("errors") or []
            first = errors[0]
            return f" ({first.get('code', '')}: {first.get('message', '')})"
        except (FetchError, httpx.HTTPError, ValueError, AttributeError, IndexError, TypeError):
            return ""

    def _drain(self, resp: httpx.Response) -> None:
        """Read a little of an unwanted body (so the connection can be reused), then close."""
        import httpx

        seen = 0
        try:
            for raw in resp.iter_raw():
                seen += len(raw)
                if seen > MAX_ERROR_BODY:
                    break
        except httpx.HTTPError:
            pass
        finally:
            resp.close()
