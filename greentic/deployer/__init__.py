"""The deployer: `op` verbs over the store, env apply, materialize, and k8s/ (render, reconcile)."""
