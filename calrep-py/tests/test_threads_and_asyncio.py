"""The GIL is released while calrep works, and asyncio can await runs."""

from __future__ import annotations

import asyncio
import threading

import calrep


def test_another_thread_runs_during_a_long_call(sim: calrep.Simulator, config: calrep.Config) -> None:
    engine = calrep.Engine(config)
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    sim.set_latency(0.02)
    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        before = ticks
        engine.run_task("everyone")
        during = ticks - before
    finally:
        stop.set()
        spinner.join()
        sim.set_latency(0)
    # With the GIL held for the whole run the spinner could not have moved.
    assert during > 10_000, during


def test_runs_are_awaitable_together(config: calrep.Config) -> None:
    engine = calrep.Engine(config)

    async def main() -> list:
        return await asyncio.gather(engine.plan_async("everyone"), engine.run_task_async("everyone"))

    plan, run = asyncio.run(main())
    assert plan.dry_run and not run.dry_run
    assert len(run.mailboxes) == len(plan.mailboxes) >= 20


def test_an_awaited_error_is_the_right_class(config: calrep.Config) -> None:
    engine = calrep.Engine(config)

    async def main() -> None:
        await engine.run_task_async("nobody")

    try:
        asyncio.run(main())
    except calrep.TaskError as e:
        assert "nobody" in str(e)
    else:
        raise AssertionError("no TaskError")


def test_serve_runs_until_stopped(config: calrep.Config) -> None:
    engine = calrep.Engine(config)
    asked = threading.Event()

    def stop() -> None:
        asked.set()
        engine.stop()

    timer = threading.Timer(0.5, stop)
    timer.start()
    runs = engine.serve(poll_seconds=0.1)
    timer.join()
    # It kept serving until asked, and returned once asked.
    assert asked.is_set()
    assert all(task == "everyone" and isinstance(due, str) for task, due, _ in runs)
