"""A real single-node Kubernetes built from the official Go modules (issue #15): `gomod` (pure
go.mod reading and wrapper writing), `build` (the version-keyed binary cache), `pki` (certs and
keys), `controlplane` (etcd, apiserver, controller-manager, scheduler as supervised processes)."""
