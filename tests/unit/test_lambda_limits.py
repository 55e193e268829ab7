"""The local cloud's account of Lambda's timeout (issue 16): an invocation past it is told apart — past it by
design, or only because the machine starved the process (`infra.localcloud.lambdas.StarvationProbe`).

The probe's readings are given, not slept for: the accounting is what is tested, on a driven record."""

from __future__ import annotations

from pathlib import Path

from infra.localcloud.lambdas import PROBE, FunctionSpec, LocalFunction, StarvationProbe


def function(timeout: int = 30) -> LocalFunction:
    spec = FunctionSpec("ForwardFunction", "hub-forward", "arn:aws:lambda:::function:hub-forward",
                        "functions.forward.handler", Path("."), {}, timeout, 512)  # fmt: skip
    return LocalFunction(spec)


def test_time_the_probe_woke_late_is_summed_within_an_invocations_span() -> None:
    probe = StarvationProbe()
    probe._late.extend([(10.0, 0.5), (12.0, 2.0), (50.0, 9.0)])
    assert probe.lost_between(9.0, 20.0) == 2.5
    assert probe.lost_between(20.0, 40.0) == 0.0


def test_past_its_timeout_only_because_starved_is_told_from_past_it_by_design() -> None:
    forward = function(timeout=30)
    start = 1_000_000.0  # a moment of the monotonic clock the probe has no other readings for
    PROBE._late.extend([(start + 5, 4.0), (start + 20, 3.0)])  # 7 s in which the process could not run
    forward._ran(34.0, start)  # 34 s, of which 7 starved: 27 s of its own, within 30 s
    forward._ran(45.0, start + 100)  # 45 s and no starvation: past its timeout by design
    forward._ran(12.0, start + 200)
    limits = forward.limits()
    assert (limits["over_timeout"], limits["over_timeout_starved"], limits["over_timeout_design"]) == (2, 1, 1)
    assert limits["most_starved_s"] == 7.0 and limits["longest_s"] == 45.0


def test_a_starved_invocation_still_counts_past_its_timeout_negative_control() -> None:
    forward = function(timeout=30)
    start = 2_000_000.0
    PROBE._late.append((start + 5, 2.0))  # starved 2 s, but 40 s is past 30 s all the same
    forward._ran(40.0, start)
    assert (forward.limits()["over_timeout_starved"], forward.limits()["over_timeout_design"]) == (0, 1)


def test_time_waited_on_a_starved_moto_beyond_what_aws_takes_a_call_is_the_machines() -> None:
    forward = function(timeout=30)
    start = 3_000_000.0
    forward._ran(40.0, start, [100.0, 21.0])  # 100 calls waited 21 s; AWS: 1 s. 40 - 20 = 20 s of its own
    forward._ran(40.0, start + 100, [100.0, 5.0])  # 5 s waited, 4 beyond AWS: 36 s of its own, past 30 s
    assert (forward.limits()["over_timeout_starved"], forward.limits()["over_timeout_design"]) == (1, 1)


def test_each_invocation_past_its_timeout_says_where_its_time_went_moto_the_process_or_its_own_work() -> None:
    """bench/e2e.py prints these: a reviewer tells a run past its timeout because moto answered late from one
    whose own work outlasts it, which Lambda would kill in AWS too."""
    scheduler = function(timeout=60)
    start = 4_000_000.0
    PROBE._late.append((start + 5, 6.0))  # the process kept from the CPU for 6 s
    scheduler._ran(72.0, start, [300.0, 43.0])  # 300 calls waited 43 s; AWS: 3 s of them
    scheduler._ran(50.0, start + 100, [10.0, 0.1])  # within its timeout: not listed
    [past] = scheduler.limits()["past"]
    assert past == {"elapsed_s": 72.0, "process_starved_s": 6.0, "moto_wait_s": 40.0, "aws_calls": 300.0,
                    "own_s": 26.0}  # fmt: skip
