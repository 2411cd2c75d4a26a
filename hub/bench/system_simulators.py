"""The far ends of ``hub bench system``: the demo's simulators, and its evening played on them when told.

``python -m hub.bench.system_simulators --config simulators.toml [--played-elsewhere NAME ...]`` runs a hub
on that config as ``hub run`` does (a hub with simulators and no adapters, stopped cleanly by SIGINT or
SIGTERM) and, on SIGUSR1, starts the config's ``[scenario]`` on the simulators it runs; SIGUSR2 stops it
(the measured window is over: the simulators go on as they are, the script plays no more). The script is played
here because its cues are calls on the simulator services, which live in this process; the hub under test
is another process, so none of this is counted as its CPU or memory. The benchmark sends SIGUSR1 as its
measured window opens, and plays the cues of the simulators it runs itself (``--played-elsewhere``: its
Shopwatch radio) at the same moment; this process passes over those without a word, as the player does with
a simulator whose ``only_when`` leaves it out.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

#: Why a cue to a simulator the benchmark runs itself is passed over here.
PLAYED_ELSEWHERE = "played by hub bench system itself"


class ScenarioTrigger:
    """Starts the scenario on the running hub when SIGUSR1 comes (at once, if it came before the hub was up),
    and stops it when SIGUSR2 comes."""

    def __init__(self, played_elsewhere: tuple[str, ...]) -> None:
        self.played_elsewhere = played_elsewhere
        self.hub: Any = None
        self.player: Any = None
        self._asked = False

    def signalled(self, number: int, _frame: Any) -> None:
        # In the main thread, between two bytecodes of the reactor's: hand the work to the reactor.
        if number == signal.SIGUSR2:
            if self.hub is None:
                self._asked = False
            else:
                self.hub.reactor.callFromThread(self.stop)
        elif self.hub is None:
            self._asked = True
        else:
            self.hub.reactor.callFromThread(self.start)

    def hub_up(self, hub: Any) -> None:
        self.hub = hub
        hub.log.info("scenario_waiting", scenario=hub.config.scenario.name, steps=len(hub.config.scenario.steps))
        if self._asked:
            hub.reactor.callLater(0, self.start)

    def start(self) -> None:
        from hub.scenario import ScenarioPlayer

        hub = self.hub
        if self.player is not None or hub.bus is None or not hub.config.scenario.steps:
            return
        skipped = {**hub.skipped_simulators, **dict.fromkeys(self.played_elsewhere, PLAYED_ELSEWHERE)}
        self.player = ScenarioPlayer(hub.config.scenario, hub.simulators, clock=hub.reactor, publish=hub.bus.publish,
                                     events=hub.events, say=lambda line: print(line, flush=True),
                                     failed=hub.simulator_failures, skipped=skipped,
                                     log=hub.log.bind(component="scenario"))
        self.player.setName("scenario")
        # A child of the hub, so it stops first, before the simulators it cues.
        self.player.setServiceParent(hub)

    def stop(self) -> None:
        if self.player is not None and self.player.running:
            self.player.stopService()
            self.hub.log.info("scenario_stopped", played=len(self.player.played))


def main(argv: list[str] | None = None) -> int:
    from hub.cli import _serve, load

    parser = argparse.ArgumentParser(prog="python -m hub.bench.system_simulators", description=__doc__)
    parser.add_argument("--config", required=True, help="the simulators' config (hub/bench/system_config.py)")
    parser.add_argument("--played-elsewhere", action="append", default=[], metavar="SIMULATOR",
                        help="a simulator the script names that the benchmark runs itself")
    args = parser.parse_args(argv)
    trigger = ScenarioTrigger(tuple(args.played_elsewhere))
    # Before anything else: the benchmark's signals must never find the default action (the end of the process).
    signal.signal(signal.SIGUSR1, trigger.signalled)
    signal.signal(signal.SIGUSR2, trigger.signalled)
    config, host = load(args.config)
    return _serve(config, host, banner=None, after_banner=trigger.hub_up)


if __name__ == "__main__":
    sys.exit(main())
