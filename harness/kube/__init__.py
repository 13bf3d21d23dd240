"""The Kubernetes track: kind lifecycle, kubectl, port-forward, the cluster-backed backend."""
