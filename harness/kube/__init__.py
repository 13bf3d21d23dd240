"""The Kubernetes (kind) track, one concern per module: `commands` (the Runner seam), `kubectl`
(argv and JSON), `kind` (pins, KindCluster), `local_registry`, `artifacts`, `clusters` (this
process's cluster), `portforward`, `worker` (KindWorker), `track` (KindBackend), `verbs` (demo)."""
