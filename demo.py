"""demo.py — run the Greentic scenarios by name: `python demo.py host-pull`, `list`, `repro`.

Every scenario in scenarios/ is a verb, run through `harness.runner` (the same entry pytest
uses) on `--track` or the first track that has what it needs; `COMMANDS` adds the verbs that
are not scenarios. `repro [<name>]` lists or runs the troubleshooting repros
(scenarios/_repro.catalog: every `repro-*` module with a `ROW`). This file only parses, prints
and calls the harness. Each assertion prints a green line; a failure prints its cause and the
next step on one line, never a traceback. Exit code: 0 when the verb did what it says, else 1
(a scenario the chosen track cannot host prints SKIP and exits 1).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"


def _ensure_venv() -> None:
    """Re-run under the project's venv when this interpreter lacks its dependencies."""
    try:
        import httpx  # noqa: F401

        import greentic  # noqa: F401
    except ImportError:
        in_venv = Path(sys.prefix).resolve() == VENV_PYTHON.parent.parent.resolve()
        if VENV_PYTHON.exists() and not in_venv:
            os.execv(
                str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]]
            )
        print("demo.py: the project is not set up — run `make setup` first", file=sys.stderr)
        raise SystemExit(1) from None


_ensure_venv()

import scenarios  # noqa: E402
from harness import kept, runner  # noqa: E402
from harness.artifacts import default_root  # noqa: E402
from harness.context import Check, ScenarioResult  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from scenarios import _repro as repro  # noqa: E402

# -- output -------------------------------------------------------------------------------
COLOR = sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def paint(text: str, code: str) -> str:
    return f"\033[{code}m{text}\033[0m" if COLOR else text


def green(text: str) -> str:
    return paint(text, "32")


def red(text: str) -> str:
    return paint(text, "31")


def yellow(text: str) -> str:
    return paint(text, "33")


def dim(text: str) -> str:
    return paint(text, "2")


def bold(text: str) -> str:
    return paint(text, "1")


class ConsoleReporter:
    """Prints steps dimmed and checks as green ✓ / red ✗ lines as they happen."""

    def step(self, text: str) -> None:
        print(dim(f"  · {text}"), flush=True)

    def check(self, check: Check) -> None:
        mark = green("✓") if check.ok else red("✗")
        detail = f" {dim('— ' + check.detail)}" if check.detail and check.ok else ""
        print(f"  {mark} {check.name}{detail}", flush=True)


def cause_and_next(error: str, artifacts: Path | None) -> str:
    """One line: the first line of the error, then the `Hint:` (or where the evidence is)."""
    lines = [ln.strip() for ln in error.splitlines() if ln.strip()]
    cause = lines[0] if lines else "failed"
    hints = [ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("hint:")]
    where = f"read {relative(artifacts)}/ (logs, evidence, result.json)" if artifacts else ""
    step = hints[0] if hints else where
    return f"{cause} — next: {step}" if step else cause


def relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def print_outcome(name: str, result: ScenarioResult) -> None:
    """The run's last line: PASS, SKIP with the reason, or FAIL with cause and next step."""
    if result.skipped is not None:
        print(f"{yellow('SKIP ' + name)} [{result.track}]: {cause_and_next(result.skipped, None)}")
    elif result.ok:
        took = f" in {result.elapsed_s:.1f}s · {relative(result.artifacts)}/"
        print(green(f"PASS {name}") + dim(took))
    else:
        why = cause_and_next(result.error or "a check failed", result.artifacts)
        print(f"{red('✗ FAIL ' + name)}: {why}")


# -- verbs --------------------------------------------------------------------------------
HOST_STOP = f"{relative(VENV_PYTHON)} {relative(REPO / 'demo.py')} host-stop"


@dataclass(frozen=True)
class Options:
    verb: str
    args: list[str]
    track: str | None
    variant: str | None
    keep: bool
    artifacts: Path
    provider: str | None = None  # --provider (cluster-up/-down read it)


def run_scenario(name: str, opts: Options, *, keep: bool | None = None) -> ScenarioResult | None:
    """Run one scenario with live output; None when it could not even start."""
    module = scenarios.load(name)
    try:
        track = opts.track or runner.default_track(module)
        variant = opts.variant or runner.variants_of(module)[0]
        runner.check_runnable(module, track, variant)
    except HarnessError as exc:
        print(f"{red('✗')} {cause_and_next(str(exc), None)}")
        return None
    if track == "kind" and runner.skip_reason(module, track) is None:
        from harness.kube import verbs as kind_track

        kind_track.use_demo_cluster()  # kind-up's kept cluster (created here when absent)
        if not kind_track.demo_preflight(print):  # one line per miss, then `--track docker`
            return None
    label = f"{track}{'/' + variant if variant else ''}"
    print(bold(f"{name} [{label}]") + dim(f"  {scenarios.summary(module)}"), flush=True)
    try:
        result = runner.execute(
            module,
            track=track,
            variant=variant,
            artifacts_root=opts.artifacts,
            keep=opts.keep if keep is None else keep,
            reporter=ConsoleReporter(),
        )
    except HarnessError as exc:
        print(f"{red('✗')} {cause_and_next(str(exc), None)}")
        return None
    print_outcome(name, result)
    return result


def verb_scenario(opts: Options) -> int:
    result = run_scenario(opts.verb, opts)
    return 0 if result is not None and result.ok else 1


def verb_host_pull(opts: Options) -> int:
    """host-pull, leaving the worker serving (seeds/001: `./demo.sh host-pull`)."""
    report_stopped(quiet=True)  # a previous demo worker would hold the port
    result = run_scenario("host-pull", opts, keep=True)
    if result is None:
        return 1
    if result.kept:
        kept.record(
            kept.KeptRun(result.run_id, str(result.artifacts), result.urls, tuple(result.kept))
        )
    if not result.ok:
        if result.kept:
            print(dim(f"  stop what it left running with: {HOST_STOP}"))
        return 1
    url = result.urls.get("worker", "http://127.0.0.1:8080")
    pids = ", ".join(str(k.pid) for k in result.kept)
    print()
    print(bold(f"The worker keeps serving on {url} (pid {pids}). Try it:"))
    print(f"  curl -s {url}/status")
    print(f"  curl -s -X POST {url}/ -H 'content-type: application/json' -d '{{\"text\":\"hi\"}}'")
    print(f"  open {url}/chat   (webchat console, loopback only)")
    print(bold("Stop it with:") + f" {HOST_STOP}")
    return 0


def report_stopped(quiet: bool = False) -> int:
    """Stop what the last host-pull left running (harness.kept) and say what happened."""
    try:
        report = kept.stop_recorded()
    except kept.KeptStateUnreadable as exc:
        print(f"{red('✗')} {cause_and_next(str(exc), None)}")
        return 1
    if report is None:
        if not quiet:
            where = relative(kept.state_file())
            print(f"no host-pull worker is recorded ({where} is absent); nothing to stop")
        return 0
    url = report.run.urls.get("worker", "")
    for item in report.stopped:
        what, pid = item.kept.what, item.kept.pid
        if item.outcome is kept.Outcome.STOPPED:
            print(f"  {green('✓')} stopped {what} (pid {pid}) {dim(url)}")
        elif item.outcome is kept.Outcome.STUCK:
            print(f"  {red('✗')} {what} (pid {pid}) did not stop — next: kill -9 {pid}")
        elif not quiet:
            print(dim(f"  · {what} (pid {pid}) is no longer running"))
    for leftover in report.swept:
        print(dim(f"  · swept {leftover}"))
    return 0 if report.ok else 1


def verb_host_stop(opts: Options) -> int:
    return report_stopped()


def verb_list(opts: Options) -> int:
    print(bold("scenarios") + dim("  (python demo.py <name> [--track T] [--variant V])"))
    repros = {listed.scenario for listed in repro.catalog()}
    for name in scenarios.names():
        if name in repros:
            continue
        module = scenarios.load(name)
        variants = [v for v in runner.variants_of(module) if v]
        extra = f" variants: {', '.join(variants)}" if variants else ""
        print(f"  {name:<18} tracks: {', '.join(runner.tracks_for(module))}{extra}")
        print(dim(f"  {'':<18} {scenarios.summary(module)}"))
    print_repro_rows()
    print(bold("other verbs"))
    for name, (_, text) in sorted(COMMANDS.items()):
        if name not in scenarios.names():
            print(f"  {name:<18} {text}")
    return 0


REPRO_USAGE = "python demo.py repro <name> [--track T]"


def print_repro_rows() -> None:
    """The troubleshooting rows, each with the tracks its repro runs on and its symptom."""
    print(bold("troubleshooting repros") + dim(f"  ({REPRO_USAGE}; docs/troubleshooting.md)"))
    for listed in repro.catalog():
        print(f"  {listed.row.name:<22} tracks: {', '.join(listed.tracks) or 'none here'}")
        print(dim(f"  {'':<22} {listed.row.symptom}"))


def verb_repro(opts: Options) -> int:
    """`repro`: list the rows; `repro <name>`: run scenario `repro-<name>`."""
    if not opts.args:
        print_repro_rows()
        return 0
    scenario = repro.scenario_for(opts.args[0])
    if scenario not in {listed.scenario for listed in repro.catalog()}:
        print(f"no troubleshooting row `{opts.args[0]}` — next: `python demo.py repro` lists them")
        return 1
    result = run_scenario(scenario, opts)
    return 0 if result is not None and result.ok else 1


def verb_kind_up(opts: Options) -> int:
    """Create (or adopt) the kept kind cluster with its local registry; load the images."""
    from harness.kube import verbs as kind_track

    return kind_track.kind_up(print)


def verb_kind_down(opts: Options) -> int:
    from harness.kube import verbs as kind_track

    return kind_track.kind_down(print)


def verb_cluster_up(opts: Options) -> int:
    """`--provider local`: start the local cluster (kubeconfig, version); else kind-up."""
    from harness.kube import verbs as kind_track

    return kind_track.cluster_up(print, provider=opts.provider)


def verb_cluster_down(opts: Options) -> int:
    from harness.kube import verbs as kind_track

    return kind_track.cluster_down(print, provider=opts.provider)


def verb_doctor(opts: Options) -> int:
    from harness import doctor
    from harness.kube import verbs as kind_track
    from harness.kube.local import doctor as local_doctor

    cluster = kind_track.demo_cluster_name()
    return doctor.doctor_verb(print, cluster=cluster, other=local_doctor.seen())


# verb → (handler, one-line help); every scenario is a verb too (verb_scenario).
COMMANDS: dict[str, tuple[Callable[[Options], int], str]] = {
    "host-pull": (verb_host_pull, "pull, verify and serve on the host; leaves the worker serving"),
    "host-stop": (verb_host_stop, "stop the worker host-pull left running"),
    "list": (verb_list, "list scenarios, their tracks and the other verbs"),
    "repro": (verb_repro, "list the troubleshooting rows, or reproduce one: repro <name>"),
    "kind-up": (verb_kind_up, "create the kind cluster (local registry) and load the images"),
    "kind-down": (verb_kind_down, "delete the kind cluster kind-up created"),
    "cluster-up": (verb_cluster_up, "--provider local: start the local cluster (else kind-up)"),
    "cluster-down": (verb_cluster_down, "--provider local: stop it (else kind-down)"),
    "doctor": (verb_doctor, "preflight: python deps, docker, kind/kubectl, context, pod network"),
}


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="demo.py", description="Run Greentic scenarios by name (see `demo.py list`)."
    )
    parser.add_argument(
        "verb", nargs="?", help="a scenario (host-pull, digest-mismatch, …) or list/host-stop"
    )
    parser.add_argument("args", nargs="*", help="verb arguments (e.g. repro <name>)")
    parser.add_argument("--track", help="host | kind | docker (default: the first that can)")
    parser.add_argument("--variant", help="scenario variant, e.g. http | oci for host-pull")
    parser.add_argument("--keep", action="store_true", help="leave what the run started running")
    parser.add_argument("--artifacts", type=Path, help="artifacts root (default: ./artifacts)")
    parser.add_argument(
        "--kube-context", metavar="CTX", help="kind track: run on this existing cluster instead"
    )
    parser.add_argument(
        "--image-registry", metavar="HOST[/PREFIX]", help="with --kube-context: push images here"
    )
    parser.add_argument(
        "--provider", choices=("kind", "existing", "local"), help="kind track: which cluster"
    )
    ns = parser.parse_intermixed_args(argv)
    if ns.kube_context or ns.image_registry or ns.provider:  # harness.kube.clusters reads them
        from harness.kube import verbs as kind_track

        kind_track.select_cluster(ns.kube_context, ns.image_registry, ns.provider)
    return Options(
        verb=ns.verb or "",
        args=list(ns.args),
        track=ns.track,
        variant=ns.variant,
        keep=ns.keep,
        artifacts=(ns.artifacts or default_root(REPO)).resolve(),
        provider=ns.provider,
    )


def handler_for(verb: str) -> Callable[[Options], int] | str:
    """The verb's handler, or the one line that says why there is none."""
    listing = "`python demo.py list` shows"
    if not verb:
        return f"no verb given — next: {listing} every verb (e.g. host-pull)"
    if verb in COMMANDS:
        return COMMANDS[verb][0]
    if verb in scenarios.names():
        return verb_scenario
    return f"unknown verb `{verb}` — next: {listing} every verb"


def main(argv: list[str] | None = None) -> int:
    opts = parse(sys.argv[1:] if argv is None else argv)
    handler = handler_for(opts.verb)
    if isinstance(handler, str):
        print(handler)
        return 1
    started = time.monotonic()
    try:
        return handler(opts)
    except KeyboardInterrupt:
        print(red("✗") + " interrupted; what the run started was stopped")
        return 1
    except Exception as exc:  # the last line of defence: one line, traceback to a file
        crash = opts.artifacts / "demo-crash.txt"
        crash.parent.mkdir(parents=True, exist_ok=True)
        crash.write_text(traceback.format_exc(), encoding="utf-8")
        print(
            f"{red('✗')} {opts.verb} crashed after {time.monotonic() - started:.1f}s: "
            f"{type(exc).__name__}: {exc} — next: this is a bug; see {relative(crash)}"
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
