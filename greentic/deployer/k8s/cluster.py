"""The `Cluster` seam (apply/list/get/delete) and KubeCluster, its official-client implementation.

KubeCluster is the only module that imports `kubernetes` (lazily, so render/plan and the
worker never pay for it) and the one place its exceptions become GreenticErrors: 404 →
NotFound, 409 → ApplyConflict, others → ClusterError keeping the Status message, no connection
→ ClusterUnreachable naming the context and server. Used by reconcile and the CLI verbs; tests
pass `fake.FakeCluster()` through the same Protocol.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from greentic.deployer.k8s.bodies import Body, ObjectRef, kind_info, ref
from greentic.deployer.k8s.errors import ClusterError, ClusterUnreachable, KubeClientMissing
from greentic.errors import ApplyConflict, Conflict, GreenticError, NotFound

FIELD_MANAGER = "greentic-deployer"
DEFAULT_KUBECONFIG = "~/.kube/config"
REQUEST_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds for every API call we make


@runtime_checkable
class Cluster(Protocol):
    """Four verbs over plain dicts, like httpx's transport seam. Example:

    `cluster.apply(objs, field_manager="greentic-deployer", force=True)`
    """

    def apply(
        self, objs: Sequence[Body], *, field_manager: str, force: bool, dry_run: bool = False
    ) -> list[Body]:
        """Server-side apply each object in order; return what the server answered."""
        ...

    def list(self, kind: str, *, namespace: str | None, labels: Mapping[str, str]) -> list[Body]:
        """Objects of `kind` (in `namespace`, None for cluster-wide) carrying all `labels`."""
        ...

    def get(self, ref: ObjectRef) -> Body:
        """One object; NotFound when absent."""
        ...

    def delete(
        self, ref: ObjectRef, *, labels: Mapping[str, str] | None = None, dry_run: bool = False
    ) -> None:
        """Delete one object, only while it still carries `labels`; absent is fine."""
        ...


def selector(labels: Mapping[str, str]) -> str:
    """`k=v,k2=v2` (sorted, so requests are deterministic)."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def error_for(status: int, message: str, *, what: str) -> GreenticError:
    """The GreenticError for an API answer `status` (shared by KubeCluster and FakeCluster)."""
    text = f"{what}: {message}"
    if status == 404:
        return NotFound(text)
    if status == 409:
        return ApplyConflict(text, status=409)
    if status in (401, 403):
        return ClusterError(
            f"{text} (status {status})",
            status=status,
            hint="check the kubeconfig credentials and that they may manage this namespace",
        )
    return ClusterError(f"Kubernetes API error: {text} (status {status})", status=status)


def _status_message(exc: Any) -> str:
    """The Status `message` of an ApiException body, else its reason."""
    body = getattr(exc, "body", None)
    if body:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            message = json.loads(body).get("message")
            if message:
                return str(message)
    return str(getattr(exc, "reason", None) or "no reason given")


def _root_cause(exc: BaseException) -> str:
    """The innermost `reason` of a urllib3 error chain (MaxRetryError → NewConnectionError)."""
    reason: Any = getattr(exc, "reason", None)
    while isinstance(reason, BaseException) and getattr(reason, "reason", None) is not None:
        reason = getattr(reason, "reason", None)
    text = str(reason if reason is not None else exc)
    return text.split(": ", 1)[-1] if "Failed to establish" in text else text


def _client_modules() -> tuple[Any, Any, Any]:
    """The official client's modules, or KubeClientMissing (the `[k8s]` extra is optional)."""
    try:
        from kubernetes import client, config, dynamic
    except ImportError:
        raise KubeClientMissing() from None
    return client, config, dynamic


class KubeCluster:
    """The Cluster over the official client's DynamicClient. Example:

    `with KubeCluster.connect("kind-gtc") as cluster: reconcile.run(objs, cluster=cluster, …)`
    """

    def __init__(self, client: Any, *, context: str, server: str, cache_dir: Path) -> None:
        self._dyn = client
        self.context = context
        self.server = server
        self._cache_dir = cache_dir

    @classmethod
    def connect(cls, context: str | None = None, *, kubeconfig: str | None = None) -> KubeCluster:
        """Load kubeconfig (`context`, else current; in-cluster without one) and discover."""
        client, config, dynamic = _client_modules()
        files = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser(DEFAULT_KUBECONFIG)
        cfg = client.Configuration()
        name = context or "(current)"
        try:
            if any(Path(p).is_file() for p in files.split(os.pathsep) if p):
                if context is None:
                    current = config.list_kube_config_contexts(files)[1]
                    if not current:
                        raise config.ConfigException(f"{files} sets no current-context")
                    name = current["name"]
                config.load_kube_config(
                    config_file=files,
                    context=context,
                    client_configuration=cfg,
                    persist_config=False,
                )
            elif context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
                name = "in-cluster"
                config.load_incluster_config(client_configuration=cfg)
            else:
                raise config.ConfigException(f"no kubeconfig at {files} (set KUBECONFIG)")
        except Exception as exc:  # ConfigException, YAML errors, exec-plugin failures, …
            where = f"kubeconfig context `{name}`: " if context else ""
            raise Conflict(
                f"no usable Kubernetes credentials: {where}{exc}",
                hint="pick a context with --context or the `kubeconfig_context` answer "
                "(`kubectl config get-contexts`)",
            ) from None
        cfg.retries = 2  # a down API server fails in seconds, not minutes
        cache_dir = Path(tempfile.mkdtemp(prefix="gtc-discovery-"))
        api = client.ApiClient(configuration=cfg)
        # Discovery requests take no per-call timeout; give every pooled connection one.
        pool = getattr(getattr(api, "rest_client", None), "pool_manager", None)
        if pool is not None:
            from urllib3 import Timeout

            connect_s, read_s = REQUEST_TIMEOUT
            pool.connection_pool_kw["timeout"] = Timeout(connect=connect_s, read=read_s)
        cluster = cls(None, context=name, server=cfg.host, cache_dir=cache_dir)
        try:
            with cluster._translating("discovering the API"):
                cluster._dyn = dynamic.DynamicClient(api, cache_file=str(cache_dir / "disc.json"))
        except BaseException:
            cluster.close()
            api.close()
            raise
        return cluster

    def close(self) -> None:
        shutil.rmtree(self._cache_dir, ignore_errors=True)
        if self._dyn is not None:
            self._dyn.client.close()

    def __enter__(self) -> KubeCluster:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _translating(self, what: str) -> Iterator[None]:
        """The one place kubernetes/urllib3 exceptions become GreenticErrors."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import ResourceNotFoundError
        from urllib3.exceptions import HTTPError

        try:
            yield
        except ApiException as exc:
            if not exc.status:
                raise self._unreachable(exc.reason or exc) from None
            raise error_for(int(exc.status), _status_message(exc), what=what) from None
        except HTTPError as exc:
            raise self._unreachable(exc) from None
        except ResourceNotFoundError as exc:
            raise ClusterError(f"{what}: the cluster does not serve it ({exc})") from None

    def _unreachable(self, exc: Any) -> ClusterUnreachable:
        cause = _root_cause(exc) if isinstance(exc, BaseException) else str(exc)
        return ClusterUnreachable(
            f"cannot reach the cluster: context `{self.context}` at {self.server}: {cause}",
            hint="is the cluster up? `kubectl --context <ctx> cluster-info`",
        )

    def _resource(self, api_version: str, kind: str) -> Any:
        with self._translating(f"looking up {api_version} {kind}"):
            return self._dyn.resources.get(api_version=api_version, kind=kind)

    def apply(
        self, objs: Sequence[Body], *, field_manager: str, force: bool, dry_run: bool = False
    ) -> list[Body]:
        out: list[Body] = []
        for obj in objs:
            key = ref(obj)
            res = self._resource(key.api_version, key.kind)
            with self._translating(f"applying {key}"):
                answer = self._dyn.server_side_apply(
                    res,
                    # the object itself, never a pre-serialized str: clients 29.0.0-36.0.3
                    # json.dumps any apply-patch+yaml body, so a str arrived double-encoded;
                    # a dict is encoded once by every version (pyproject pins >=37 as well)
                    body=dict(obj),
                    name=key.name,
                    namespace=key.namespace,
                    field_manager=field_manager,
                    force_conflicts=force,
                    dry_run="All" if dry_run else None,
                    _request_timeout=REQUEST_TIMEOUT,
                )
            out.append(answer.to_dict())
        return out

    def list(self, kind: str, *, namespace: str | None, labels: Mapping[str, str]) -> list[Body]:
        info = kind_info(kind)
        res = self._resource(info.api_version, kind)
        with self._translating(f"listing {kind} in {namespace or 'the cluster'}"):
            answer = self._dyn.get(
                res,
                namespace=namespace if info.namespaced else None,
                label_selector=selector(labels) or None,
                _request_timeout=REQUEST_TIMEOUT,
            ).to_dict()
        items: list[Body] = answer.get("items") or []
        for item in items:  # list items omit their type; put it back so ref() works
            item.setdefault("apiVersion", info.api_version)
            item.setdefault("kind", kind)
        return items

    def get(self, ref: ObjectRef) -> Body:
        res = self._resource(ref.api_version, ref.kind)
        with self._translating(f"reading {ref}"):
            answer: Body = self._dyn.get(
                res, name=ref.name, namespace=ref.namespace, _request_timeout=REQUEST_TIMEOUT
            ).to_dict()
        return answer

    def delete(
        self, ref: ObjectRef, *, labels: Mapping[str, str] | None = None, dry_run: bool = False
    ) -> None:
        """With `labels`: a collection DELETE narrowed to this name and those labels."""
        res = self._resource(ref.api_version, ref.kind)
        extra: dict[str, Any] = {"_request_timeout": REQUEST_TIMEOUT}
        if dry_run:
            extra["dry_run"] = "All"
        try:
            with self._translating(f"deleting {ref}"):
                if labels:
                    self._dyn.delete(
                        res,
                        namespace=ref.namespace,
                        label_selector=selector(labels),
                        field_selector=f"metadata.name={ref.name}",
                        **extra,
                    )
                else:
                    self._dyn.delete(res, name=ref.name, namespace=ref.namespace, **extra)
        except NotFound:
            return
