"""Greentic deployer, worker runtime and their shared core."""
