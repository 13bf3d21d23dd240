"""Registers the harness's pytest plugin (options, markers, fixtures) for this repository's
tests (plus pytest's `pytester`, which the plugin's own tests use); projects that install
this one get the plugin through the `pytest11` entry point instead."""

pytest_plugins = ["harness.pytest_plugin", "pytester"]
