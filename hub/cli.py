"""The ``hub`` command: run the hub, the demo, check a config, list plugins, read the journal, benchmark.

Exit codes: 0 success, 1 the hub failed while running, 2 bad input (a config error, a missing file, a
plugin that cannot be loaded), so scripts and service managers can tell them apart.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from hub import __version__
from hub.api import Benchmark
from hub.config import ConfigError, HubConfig, blocked_plugins, read_toml, validate
from hub.plugins import PluginError, PluginHost, make_plugin_manager
from hub.secrets import collect_secrets, redact

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

BUILT_IN_COMMANDS = ("run", "demo", "check-config", "plugins", "events", "bench", "user", "audit", "rules")


class CliError(Exception):
    """Bad input the user can fix; printed without a traceback, exit code 2."""


# --- loading configuration with its plugins ------------------------------------------------------------


def load(path: str | Path, *, read_secrets: bool = True) -> tuple[HubConfig, PluginHost]:
    """Read a config file, load the plugins it does not block, and validate it against them.

    ``read_secrets=False``: for commands that only need the data folder, secrets that are not available
    here are not an error (see ``hub.config.validate``).
    """
    raw = read_toml(path)
    host = make_plugin_manager(blocked=blocked_plugins(raw, path))
    config = validate(raw, Path(path), host.adapter_types(), os.environ, read_secrets=read_secrets,
                      simulator_types=host.simulator_types())
    host.plugin_schemas()  # two plugins claiming one schema name: refused here, by check-config too
    return config, host


def default_demo_config() -> Path:
    """config/demo.toml in the working folder, else beside the installed ``hub`` package."""
    for candidate in (Path.cwd() / "config" / "demo.toml", Path(__file__).resolve().parent.parent / "config" / "demo.toml"):
        if candidate.is_file():
            return candidate
    raise CliError("config/demo.toml not found; run from the project folder or pass --config")


# --- commands ------------------------------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    config, _host = load(args.file)
    enabled = sum(1 for adapter in config.adapters if adapter.enabled)
    counts = f"{len(config.adapters)} adapter(s), {enabled} enabled"
    if config.simulators:
        running = sum(1 for simulator in config.simulators if simulator.enabled)
        counts += f"; {len(config.simulators)} simulator(s), {running} enabled"
    print(f"{args.file}: ok ({counts})")
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    blocked: tuple[str, ...] = ()
    if args.config:
        blocked = blocked_plugins(read_toml(args.config), args.config)
    host = make_plugin_manager(blocked=blocked)
    for info in host.describe():
        if info.blocked:
            print(f"{info.name}  (blocked by config)")
            continue
        types = ", ".join(info.adapter_types) or "-"
        simulators = f"  simulator types: {', '.join(info.simulator_types)}" if info.simulator_types else ""
        print(f"{info.name}  {info.version}  adapter types: {types}{simulators}")
    for failure in host.failures:
        print(f"{failure.plugin}  FAILED in {failure.hook}: {failure.error}")
    return EXIT_OK


def cmd_events(args: argparse.Namespace) -> int:
    from hub.app import journal_path
    from hub.journal import iter_journal, open_reader
    from hub.topics import TopicMatcher, TopicPatternError

    config, _host = load(args.config)
    path = journal_path(config)
    if not path.is_file():
        raise CliError(f"no journal at {path}: has the hub run with this configuration?")
    try:
        matches = TopicMatcher(args.topic)
    except TopicPatternError as error:
        raise CliError(str(error)) from None
    connection = open_reader(path)
    position = args.since
    try:
        while True:
            for row in iter_journal(connection, position):
                position = row.seq
                if matches(row.topic):
                    # The stored JSON is written out as it is, with its seq put first.
                    sys.stdout.write('{"seq":%d,%s\n' % (row.seq, row.body[1:]))
            sys.stdout.flush()
            if not args.follow:
                return EXIT_OK
            time.sleep(args.poll)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        connection.close()


def cmd_run(args: argparse.Namespace) -> int:
    config, host = load(args.config)
    return _serve(config, host, banner=None)


def cmd_demo(args: argparse.Namespace) -> int:
    path = Path(args.config) if args.config else default_demo_config()
    _make_demo_secrets(path)
    config, host = load(path)
    from hub.app import journal_path

    logins = _demo_logins(journal_path(config).parent)

    async def prepare(hub: Any) -> str:
        await _ensure_demo_users(hub, logins)
        return _demo_banner(path, config, hub, logins)

    def play(hub: Any) -> None:
        from hub.scenario import start_scenario

        start_scenario(hub, say=lambda line: print(line, flush=True))

    return _serve(config, host, banner=prepare, echo_events=True, after_banner=play)


def _make_demo_secrets(path: Path) -> None:
    """Make up, at the first run, every secret the demo's config keeps in a file inside its data folder.

    The demo's simulated cameras and their adapter share a password that must not live in the repo; the
    demo config points both at ``{ file = "..." }`` in its data folder, and this writes a random value
    there (owner-only) if the file is missing, so a fresh clone needs no set-up. Secret files anywhere
    else are the operator's to provide and are never touched.
    """
    import secrets as random_source

    try:
        document = read_toml(path)
    except (OSError, ConfigError, ValueError):
        return  # load() reports a broken config properly
    hub_table = document.get("hub") if isinstance(document.get("hub"), dict) else {}
    data_dir = (path.parent / str(hub_table.get("data_dir", "data"))).resolve()
    for reference in _file_references(document):
        target = (path.parent / reference).resolve()
        if data_dir not in target.parents or target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(random_source.token_urlsafe(12))


def _file_references(value: Any) -> list[str]:
    """Every ``{ file = "PATH" }`` secret reference anywhere in a TOML document."""
    if isinstance(value, dict):
        if value.keys() == {"file"} and isinstance(value["file"], str):
            return [value["file"]]
        return [found for item in value.values() for found in _file_references(item)]
    if isinstance(value, list):
        return [found for item in value for found in _file_references(item)]
    return []


DEMO_USERS = (("operator", "operator"), ("supervisor", "supervisor"), ("auditor", "auditor"))


def _demo_logins(data_dir: Path) -> dict[str, str]:
    """The demo's log-ins: made up once per data folder, kept there (owner-only) so a rerun shows the same."""
    import secrets as random_source

    path = data_dir / "demo-logins.json"
    try:
        logins = json.loads(path.read_text())
        if isinstance(logins, dict) and all(name in logins for name, _role in DEMO_USERS):
            return logins
    except (OSError, ValueError):
        pass
    logins = {name: random_source.token_urlsafe(12) for name, _role in DEMO_USERS}
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(logins, file)
    return logins


async def _ensure_demo_users(hub: Any, logins: dict[str, str]) -> None:
    from hub.audit import Actor

    for name, role in DEMO_USERS:
        if hub.users.get(name) is None:
            await hub.users.add(name, role, logins[name], actor=Actor("demo", "system", "cli"))


def _demo_banner(path: Path, config: HubConfig, hub: Any, logins: dict[str, str]) -> str:
    from hub.app import journal_path

    # The command as the user can type it: the hub is usually in the project's .venv, not on PATH.
    command = Path(sys.argv[0]).resolve() if Path(sys.argv[0]).name == "hub" else "hub"
    console = f"{hub.web.url}/" if hub.web is not None else "(web server disabled in the config)"
    running = [a for a in config.adapters if a.enabled and a.name not in hub.skipped_adapters]
    lines = [
        f"Partner hub {__version__}: demo running on {path}",
        f"  console:        {console}",
        *(f"  log in as:      {name} / {logins[name]}" for name, _role in DEMO_USERS),
        f"  journal:        {journal_path(config).resolve()}",
        f"  events as JSON: {command} events --config {path} --follow",
        f"  adapters:       {', '.join(a.source for a in running) or 'none configured yet'}",
        *_simulator_lines(config, hub),
        *_skipped_lines(hub),
        *_scenario_lines(config),
        "  stop with Ctrl-C",
    ]
    return "\n".join(lines)


def _scenario_lines(config: HubConfig) -> list[str]:
    """The banner's programme: what the demo's script will show, and when (hub/scenario.py)."""
    from hub.scenario import programme

    lines = programme(config.scenario)
    if not lines:
        return []
    return [f"  {config.scenario.name}, from now:", *(f"    {line}" for line in lines)]


def _simulator_lines(config: HubConfig, hub: Any) -> list[str]:
    """The banner's line on the demo's simulators, saying plainly which one failed to start and why."""
    shown = []
    for simulator in config.simulators:
        if simulator.enabled and simulator.name not in hub.skipped_simulators:
            problem = hub.simulator_failures.get(simulator.name)
            shown.append(f"{simulator.name} ({simulator.type})" + (f" FAILED to start: {problem}" if problem else ""))
    return [f"  simulators:     {', '.join(shown)}"] if shown else []


def _skipped_lines(hub: Any) -> list[str]:
    """The banner's line on instances left out by their ``only_when`` (a twin runs instead): not failures."""
    skipped = [*(f"adapter {name}" for name in hub.skipped_adapters),
               *(f"simulator {name}" for name in hub.skipped_simulators)]
    if not skipped:
        return []
    why = "as root" if hub.root else "without root"
    return [f"  skipped ({why}): {', '.join(skipped)} (their only_when says so)"]


def _serve(
    config: HubConfig,
    host: PluginHost,
    banner: "Callable[[Any], Any] | None",
    echo_events: bool = False,
    after_banner: "Callable[[Any], None] | None" = None,
) -> int:
    """Run the hub until a signal; ``banner(hub)`` (a coroutine function) returns what to print once up, and
    ``after_banner(hub)`` is called once it is printed (the demo starts its script then)."""
    from twisted.internet.defer import Deferred
    from twisted.internet.task import react

    from hub.app import Hub, tune_garbage_collector
    from hub.logging_setup import configure_logging, get_logger, route_twisted_logs

    secrets = collect_secrets(config)
    configure_logging(
        level=config.logging.level,
        format=config.logging.format,
        redact=lambda text: redact(text, secrets),
    )
    route_twisted_logs()
    log = get_logger(hub=config.hub.name)

    async def serve(reactor: Any) -> None:
        tune_garbage_collector()
        # react() calls this before the reactor runs, so before its SIGINT/SIGTERM handlers exist: a
        # signal in between would end the process outright, without a clean stop.
        running: Deferred[None] = Deferred()
        reactor.callWhenRunning(running.callback, None)
        await running
        hub = Hub(config, host, reactor, log=log)
        starting = hub.startService()
        # Registered before the start finishes, so that a signal at any moment stops the hub cleanly; the
        # stop waits for the start to settle, however it ends.
        reactor.addSystemEventTrigger(
            "before", "shutdown", lambda: starting.addBoth(lambda _result: hub.stopService())
        )
        try:
            await starting
        except Exception as error:  # noqa: BLE001 - report why the hub could not start, then exit
            log.error("hub_start_failed", error=f"{type(error).__name__}: {error}")
            # react() turns SystemExit into the process's exit code.
            raise SystemExit(EXIT_FAILED) from None
        if banner is not None:
            print(await banner(hub), flush=True)
        elif hub.web is not None:
            log.info("console_ready", url=f"{hub.web.url}/")
        if echo_events and hub.bus is not None and hub.started_seq is not None:
            hub.bus.subscribe("#", _print_event, name="demo-console", since=hub.started_seq - 1)
        if after_banner is not None:
            after_banner(hub)
        # Runs until SIGINT or SIGTERM stops the reactor; the shutdown trigger stops the hub cleanly.
        await Deferred()

    react(lambda reactor: Deferred.fromCoroutine(serve(reactor)))
    return EXIT_OK  # pragma: no cover - react exits the process


def _print_event(event: Any) -> None:
    location = f" @ {event.location.name or event.location.camera}" if event.location else ""
    print(
        f"{event.received_at:%H:%M:%S} #{event.seq:<6} {event.severity.label:<8} {event.topic:<34} "
        f"{event.summary}{location}",
        flush=True,
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from twisted.internet.defer import Deferred
    from twisted.internet.task import react

    from hub.app import tune_garbage_collector
    from hub.logging_setup import configure_logging

    benchmark: Benchmark = args.benchmark
    # Whatever runs under test logs warnings only, and to stderr, so stdout stays one JSON object.
    configure_logging(level="warning", format="console", stream=sys.stderr)

    async def measure(reactor: Any) -> None:
        # Measured as the hub runs in production (hub run tunes the collector the same way).
        tune_garbage_collector()
        try:
            result = await _figures(benchmark.run(args, reactor))
            text = json.dumps(result, sort_keys=True)
        except Exception as error:  # noqa: BLE001 - a broken benchmark is reported, not a traceback
            print(f"hub: benchmark {benchmark.name} failed: {type(error).__name__}: {error}", file=sys.stderr)
            # react() turns SystemExit into the process's exit code.
            raise SystemExit(EXIT_FAILED) from None
        if args.json:
            print(text, flush=True)
        else:
            for key, value in sorted(result.items()):
                print(f"{key:>24}: {value}", flush=True)

    react(lambda reactor: Deferred.fromCoroutine(measure(reactor)))
    return EXIT_OK  # pragma: no cover - react exits the process


async def _figures(answer: Any) -> dict[str, Any]:
    """What a benchmark's ``run`` gave (a dict, or a Deferred or coroutine of one), checked."""
    if inspect.isawaitable(answer):
        answer = await answer
    if not isinstance(answer, Mapping) or not all(isinstance(key, str) for key in answer):
        raise TypeError(f"run() gave {type(answer).__name__}, not a dict of figures keyed by name")
    return dict(answer)


def _bus_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=50_000, help="events for the throughput run (default 50000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the latency run (default 10)")
    parser.add_argument("--rate", type=float, default=2000.0, help="offered events/s in the latency run (default 2000)")


def _run_bus(args: argparse.Namespace, reactor: Any) -> Any:
    from hub.bench.bus import BusBenchmark

    return BusBenchmark(events=args.events, latency_seconds=args.seconds, rate=args.rate).run(reactor)


def _console_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", type=int, default=50, help="WebSocket clients (default 50)")
    parser.add_argument("--rate", type=float, default=500.0, help="offered events/s (default 500)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the run (default 30)")


def _run_console(args: argparse.Namespace, reactor: Any) -> Any:
    from hub.bench.console import ConsoleBenchmark

    return ConsoleBenchmark(clients=args.clients, rate=args.rate, seconds=args.seconds).run(reactor)


def _system_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the measured run (default 60)")
    parser.add_argument("--radio-period", type=float, default=None, metavar="SECONDS",
                        help="seconds between the bench radio's handset actions (default 4: the pre-scenario "
                             "demo's 40 / the factor)")
    parser.add_argument("--factor", type=float, default=10.0,
                        help="how many times the demo's pace its simulators and its evening run (default 10)")
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="the demo config the room is derived from (default config/demo.toml)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after start-up before the clock starts")
    parser.add_argument("--keep", type=Path, default=None, metavar="FOLDER",
                        help="copy the run's configs and logs here before its temporary folder is removed")


def _run_system(args: argparse.Namespace, reactor: Any) -> Any:
    from hub.bench.system import run_benchmark

    return run_benchmark(args, reactor)


#: The hub's own benchmarks, offered the same way as a plugin's (hub_register_benchmarks).
BUILT_IN_BENCHMARKS = (
    Benchmark(
        name="bus",
        help="journal throughput against SQLite's own limit, and publish-to-delivery latency",
        add_arguments=_bus_arguments,
        run=_run_bus,
    ),
    Benchmark(
        name="console",
        help="stream clients fed by the hub, beside a bare WebSocket fan-out",
        add_arguments=_console_arguments,
        run=_run_console,
    ),
    Benchmark(
        name="system",
        help="the demo's room and evening at ten times its pace, every adapter live: hub CPU, peak RSS, "
             "radio-to-console p99",
        add_arguments=_system_arguments,
        run=_run_system,
    ),
)


def _broken_benchmark(name: str, error: BaseException) -> Callable[[argparse.Namespace], int]:
    def refuse(_args: argparse.Namespace) -> int:
        raise CliError(f"benchmark {name} cannot be run: its arguments could not be set up "
                       f"({type(error).__name__}: {error})")

    return refuse


# --- parsing ------------------------------------------------------------------------------------------------


def build_parser(
    plugin_commands: Sequence[tuple[str, Any]] = (), plugin_benchmarks: Sequence[tuple[str, Benchmark]] = ()
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"partner hub {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the hub on a configuration file")
    run.add_argument("--config", required=True, help="TOML configuration file")
    run.set_defaults(handler=cmd_run)

    demo = commands.add_parser("demo", help="run the hub on config/demo.toml with the simulators")
    demo.add_argument("--config", help="another demo configuration (default config/demo.toml)")
    demo.set_defaults(handler=cmd_demo)

    check = commands.add_parser("check-config", help="validate a configuration file (exit 0 or 2)")
    check.add_argument("file")
    check.set_defaults(handler=cmd_check_config)

    plugins = commands.add_parser("plugins", help="list installed plugins and their adapter types")
    plugins.add_argument("--config", help="honour this configuration's [plugins] blocked list")
    plugins.set_defaults(handler=cmd_plugins)

    events = commands.add_parser("events", help="print the journal as JSON lines, each with its seq")
    events.add_argument("--config", required=True)
    events.add_argument("--since", type=int, default=0, help="only events after this seq")
    events.add_argument("--topic", default="#", help="topic pattern, e.g. 'adapter.health.#'")
    events.add_argument("--follow", action="store_true", help="keep printing new events")
    events.add_argument("--poll", type=float, default=0.5, help=argparse.SUPPRESS)
    events.set_defaults(handler=cmd_events)

    bench = commands.add_parser("bench", help="measure performance against the physical limit")
    benchmarks = bench.add_subparsers(dest="benchmark_name", required=True, metavar="BENCHMARK")
    labelled = [(None, benchmark) for benchmark in BUILT_IN_BENCHMARKS] + list(plugin_benchmarks)
    for plugin, benchmark in labelled:
        label = f" [plugin {plugin}]" if plugin is not None else ""
        sub = benchmarks.add_parser(benchmark.name, help=f"{benchmark.help}{label}",
                                    description=benchmark.description or benchmark.help)
        sub.add_argument("--json", action="store_true", help="print one JSON object")
        sub.set_defaults(handler=cmd_bench, benchmark=benchmark)
        try:
            benchmark.add_arguments(sub)
        except Exception as error:  # noqa: BLE001 - one plugin's mistake leaves the other benchmarks usable
            sub.set_defaults(handler=_broken_benchmark(benchmark.name, error))

    # Their handlers live beside what they manage; this module only wires them in.
    from hub.auth.cli import add_audit_command, add_user_command
    from hub.rules_cli import add_rules_command

    add_user_command(commands)
    add_audit_command(commands)
    add_rules_command(commands)

    for plugin, command in plugin_commands:
        sub = commands.add_parser(command.name, help=f"{command.help} [plugin {plugin}]")
        command.add_arguments(sub)
        sub.set_defaults(handler=command.run)
    return parser


def _plugin_contributions() -> tuple[list[tuple[str, Any]], list[tuple[str, Benchmark]]]:
    """The sub-commands and benchmarks plugins add; a refused one is logged (on stderr) naming both claimants."""
    import structlog

    # Logging is not configured yet (each command does that); stdout must stay clean for --json.
    log = structlog.wrap_logger(structlog.PrintLogger(sys.stderr)).bind(component="plugins")
    try:
        host = make_plugin_manager(log=log)
        commands = host.cli_commands(reserved=BUILT_IN_COMMANDS)
        benchmarks = host.benchmarks(reserved=[benchmark.name for benchmark in BUILT_IN_BENCHMARKS])
    except PluginError as error:
        print(f"hub: warning: plugin commands unavailable: {error}", file=sys.stderr)
        return [], []
    return commands, benchmarks


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(*_plugin_contributions())
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return EXIT_BAD_INPUT
    except (CliError, PluginError) as error:
        print(f"hub: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except sqlite3.DatabaseError as error:
        print(f"hub: journal unreadable: {error}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error.
        sys.stderr.close()
        return EXIT_OK

