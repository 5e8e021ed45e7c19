"""Chat benchmark: latency, throughput, memory and cold start of the real stack, through the gateway.

``python -m bench.chat [--quick] [--duration 60] [--think-duration 60]`` (``make bench``)

It starts its own stack (``scripts.devstack``: ``scripts/stack.py run`` on free loopback ports with a
fresh DATA_DIR and the model and index ``make prepare`` built), warms it, then measures, one phase at a
time, with an asyncio httpx client against 127.0.0.1 only (every loop is bounded by a count or a
deadline):

* cold start: launch of ``stack.py run`` to the first ``/healthz`` 200, with a trained model;
* baseline: a greeting answered by a rule (no custom action), straight to Rasa's REST channel (Rasa's
  bare latency) and through the gateway ``POST /api/v1/chat``;
* knowledge answers through the gateway, one session at a time, over a fixed list of 20 real trade
  questions (10 English, 10 Chinese, from ``knowledge/eval/questions.yaml``): p50/p95/p99 and the
  ratio of the p50 to the greeting p50;
* one conversation of 200 knowledge questions back to back (100 with ``--quick``): p50/p95 of turns
  1-10, 41-50, 91-100 and 191-200, against a fresh session asking the same questions (issue 16);
* 10 and 50 concurrent sessions, each sending the next question 2 s after its reply (think time); the
  10-session phase lasts until every session has sent at least 50 messages (full run);
* a closed loop of 20 sessions with no think time: sustained messages/s and errors;
* where the time goes: ``GET /api/v1/search`` on the gateway (search alone) and, on a second Rasa
  started with its HTTP API on loopback for this purpose only, ``POST /model/parse`` (NLU alone) and
  ``POST /conversations/{id}/execute`` of ``action_noop`` (a custom action that does nothing) against
  ``utter_greet`` (no action server): the cost of one action-server round trip;
* RSS of rasa, actions and gateway (each with its child processes) from the pid files the
  supervisor writes under DATA_DIR/run/, idle after warm-up and after the load phases, and the total.

An error is a reply that is not HTTP 200 with at least one message, or a request that failed or took
longer than the client timeout. The load generator runs on the same machine as the stack and takes
CPU from it; its own share, the stack's and other processes' are recorded per phase. Figures from a
machine where other processes used the CPU are inflated: the summary says so.

Results: a Markdown summary on stdout and in ``bench/results/chat-<date>.md``, every figure in
``bench/results/chat-<date>.json``. It never asserts on a timed figure: the targets of issue 7 are
shown as PASS/FAIL next to the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.chat_report import CLIENT_TIMEOUT_S, TARGET_10_TURNS, THINK_TIME_S, markdown, notes, targets
from bench.client import (
    GREETING,
    bare_rasa_greetings,
    concurrent_sessions,
    long_conversation,
    searches,
    sequential_chat,
)
from bench.environment import engine_version, machine_info
from bench.measure import CpuMonitor, process_tree, status_kb
from bench.probe import ProbeRasa
from scripts.devstack import REPO, LocalStack, StackError, scale_env, start_stack

RESULTS_DIR = Path(__file__).resolve().parent / "results"
QUESTIONS = REPO / "knowledge" / "eval" / "questions.yaml"
QUESTIONS_PER_LANGUAGE = 10
START_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Plan:
    """How much of each phase to run (the full run or ``--quick``)."""

    warmup_rounds: int
    baseline_samples: int
    knowledge_rounds: int
    think_duration_s: float
    closed_duration_s: float
    probe_samples: int
    long_turns: int  # messages of the one long conversation
    think_min_turns: int  # the 10-session think-time phase lasts until each session can send this many


FULL = Plan(
    warmup_rounds=2,
    baseline_samples=60,
    knowledge_rounds=3,
    think_duration_s=60,
    closed_duration_s=60,
    probe_samples=60,
    long_turns=200,
    think_min_turns=TARGET_10_TURNS,
)
QUICK = Plan(
    warmup_rounds=1,
    baseline_samples=20,
    knowledge_rounds=1,
    think_duration_s=15,
    closed_duration_s=10,
    probe_samples=20,
    long_turns=100,
    think_min_turns=0,
)


# --- the machine ------------------------------------------------------------------------------


def memory(stack: LocalStack) -> dict[str, Any]:
    """RSS (and peak RSS, VmHWM) in MB of each child with its descendants, and the total."""
    rows: dict[str, Any] = {}
    for name in stack.children:
        try:
            tree = process_tree(stack.pid(name))
        except (OSError, ValueError):
            rows[name] = {"rss_mb": None, "peak_rss_mb": None, "processes": 0}
            continue
        rows[name] = {
            "rss_mb": round(sum(status_kb(p, "VmRSS") for p in tree) / 1024, 1),
            "peak_rss_mb": round(sum(status_kb(p, "VmHWM") for p in tree) / 1024, 1),
            "processes": len(tree),
        }
    rows["total_rss_mb"] = round(sum(r["rss_mb"] or 0 for r in rows.values() if isinstance(r, dict)), 1)
    return rows


class StackCpu:
    """``measure.CpuMonitor`` watching the stack's processes (and any other of this benchmark's)."""

    def __init__(self, stack: LocalStack, *also: int) -> None:
        self._monitor = CpuMonitor(pid for root in (stack.process.pid, *also) for pid in process_tree(root))

    def stop(self) -> dict[str, float]:
        shares = self._monitor.stop()
        return {
            "wall_s": shares["wall_s"],
            "stack_cpu_share": shares["watched_cpu_share"],
            "load_generator_cpu_share": shares["own_cpu_share"],
            "other_processes_cpu_share": shares["other_processes_cpu_share"],
            "loadavg_1min": shares["loadavg_1min"],
        }


# --- the questions -----------------------------------------------------------------------------


def fixed_questions() -> list[dict[str, str]]:
    """10 English and 10 Chinese answerable questions, spread evenly over the evaluation set."""
    data = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    chosen: list[dict[str, str]] = []
    for lang in ("en", "zh"):
        pool = sorted((q for q in data["questions"] if q["lang"] == lang and q.get("expected")), key=lambda q: q["id"])
        step = max(1, len(pool) // QUESTIONS_PER_LANGUAGE)
        chosen += [{"id": q["id"], "q": q["q"], "lang": lang} for q in pool[::step][:QUESTIONS_PER_LANGUAGE]]
    # Interleave the languages, so every phase sees both.
    english, chinese = chosen[:QUESTIONS_PER_LANGUAGE], chosen[QUESTIONS_PER_LANGUAGE:]
    return [q for pair in zip(english, chinese, strict=False) for q in pair]


# --- the run -----------------------------------------------------------------------------------


async def measure(stack: LocalStack, plan: Plan, seed: int, skip_probe: bool) -> dict[str, Any]:
    questions = fixed_questions()
    texts = [q["q"] for q in questions]
    report: dict[str, Any] = {"questions": [q["id"] for q in questions], "phases": {}, "cpu": {}}
    phases, cpu = report["phases"], report["cpu"]
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=stack.url, timeout=CLIENT_TIMEOUT_S, limits=limits) as client:
        say("warming up")
        for _ in range(plan.warmup_rounds):
            await sequential_chat(client, [GREETING] * 3 + texts)
            await searches(client, questions, 1)
            await bare_rasa_greetings(client, stack.rasa_url, 3)
        report["memory_idle"] = memory(stack)

        def phase(name: str, *also: int) -> StackCpu:
            say(name)
            return StackCpu(stack, *also)

        monitor = phase("baseline: greeting straight to Rasa")
        phases["greeting_bare_rasa"] = (
            await bare_rasa_greetings(client, stack.rasa_url, plan.baseline_samples)
        ).summary()
        cpu["greeting_bare_rasa"] = monitor.stop()

        monitor = phase("baseline: greeting through the gateway")
        phases["greeting_gateway"] = (await sequential_chat(client, [GREETING] * plan.baseline_samples)).summary()
        cpu["greeting_gateway"] = monitor.stop()

        monitor = phase("knowledge answers, one session at a time")
        phases["knowledge_sequential"] = (await sequential_chat(client, texts * plan.knowledge_rounds)).summary()
        cpu["knowledge_sequential"] = monitor.stop()

        monitor = phase("search alone (GET /api/v1/search)")
        phases["search_gateway"] = (await searches(client, questions, plan.knowledge_rounds)).summary()
        cpu["search_gateway"] = monitor.stop()

        monitor = phase(f"one conversation of {plan.long_turns} knowledge questions, back to back")
        phases["long_conversation"] = await long_conversation(client, texts, plan.long_turns)
        cpu["long_conversation"] = monitor.stop()

        for sessions in (10, 50):
            name = f"sessions_{sessions}_think_{THINK_TIME_S:g}s"
            duration = plan.think_duration_s
            if sessions == 10:  # long enough for each session to reach plan.think_min_turns turns
                duration = max(duration, plan.think_min_turns * (THINK_TIME_S + 0.15))
            monitor = phase(f"{sessions} sessions, {THINK_TIME_S:g} s think time, {duration:g} s")
            phases[name] = await concurrent_sessions(client, texts, sessions, THINK_TIME_S, duration, seed + sessions)
            cpu[name] = monitor.stop()

        monitor = phase(f"closed loop: 20 sessions, no think time, {plan.closed_duration_s:g} s")
        phases["closed_loop_20"] = await concurrent_sessions(client, texts, 20, 0.0, plan.closed_duration_s, seed)
        cpu["closed_loop_20"] = monitor.stop()
        report["memory_after_load"] = memory(stack)

        if skip_probe:
            report["probe"] = {"skipped": "--skip-probe"}
            return report
        say("starting a second Rasa with its HTTP API (NLU parse and action_noop timings)")
        probe = ProbeRasa(stack, stack.data_dir)
        try:
            await probe.wait_ready(client, START_TIMEOUT_S)
            await probe.parse(client, questions, 1)
            await probe.execute(client, "action_noop", 5)
            await probe.execute(client, "utter_greet", 5)
            monitor = phase("NLU parse alone (POST /model/parse)", probe.process.pid)
            phases["nlu_parse"] = (
                await probe.parse(client, questions, max(1, plan.probe_samples // len(questions)))
            ).summary()
            cpu["nlu_parse"] = monitor.stop()
            for action in ("utter_greet", "action_noop"):
                monitor = phase(f"POST /conversations/{{id}}/execute {action}", probe.process.pid)
                phases[f"execute_{action}"] = (await probe.execute(client, action, plan.probe_samples)).summary()
                cpu[f"execute_{action}"] = monitor.stop()
            report["probe"] = {"log": str(probe.log)}
        except StackError as exc:
            report["probe"] = {"failed": str(exc)}
        finally:
            probe.stop()
    return report


def say(message: str) -> None:
    print(f"[bench.chat] {message}", file=sys.stderr, flush=True)


def index_passages(stack: LocalStack) -> int | None:
    with contextlib.suppress(httpx.HTTPError, KeyError, ValueError, IndexError):
        component = httpx.get(f"{stack.url}/healthz", timeout=5).json()["components"]["index"]
        return int("".join(ch for ch in component.split("(")[1].split()[0] if ch.isdigit()))
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short phases (a smoke run while developing)")
    parser.add_argument("--duration", type=float, help="closed-loop seconds (default 60; 10 with --quick)")
    parser.add_argument(
        "--think-duration", type=float, help="seconds of each think-time phase (default 60; 15 with --quick)"
    )
    parser.add_argument("--skip-probe", action="store_true", help="do not start the second Rasa (no NLU/action split)")
    parser.add_argument(
        "--profile",
        choices=["default", "scale"],
        default="default",
        help="scale: PostgreSQL, Redis and two Rasa replicas (make bench PROFILE=scale)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-data", action="store_true", help="keep the bench DATA_DIR (logs) after the run")
    parser.add_argument("--output", type=Path, help="JSON path (default bench/results/chat-<date>.json)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    overrides: dict[str, Any] = {}
    if args.duration is not None:
        overrides["closed_duration_s"] = args.duration
    if args.think_duration is not None:
        overrides["think_duration_s"] = args.think_duration
    if overrides:
        plan = Plan(**{**plan.__dict__, **overrides})
    run_started = time.perf_counter()
    today = dt.date.today()
    output: Path = args.output or RESULTS_DIR / (
        f"chat-{today.isoformat()}.json"
        if args.profile == "default"
        else f"chat-{today.isoformat()}-{args.profile}.json"
    )
    engine = engine_version()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    say(f"starting the stack in {data_dir}")
    stack = start_stack(data_dir, scale_env(replicas=2) if args.profile == "scale" else None)
    try:
        stack.wait_healthy(START_TIMEOUT_S)
        stack.wait_all_replicas(START_TIMEOUT_S)
        cold_start = time.monotonic() - stack.launched_at
        say(f"healthy after {cold_start:.1f} s")
        report = asyncio.run(measure(stack, plan, args.seed, args.skip_probe))
        report["index_passages"] = index_passages(stack)
    finally:
        code = stack.stop()
        stack.stop_services()
        if args.keep_data:
            say(f"data and logs kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    report = {
        "date": today.isoformat(),
        "command": "python -m bench.chat" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""),
        "profile": args.profile,
        "config": {**plan.__dict__, "quick": args.quick, "think_time_s": THINK_TIME_S, "seed": args.seed},
        "engine": engine,
        "machine": {**machine_info(), "httpx": httpx.__version__},
        "cold_start_s": round(cold_start, 1),
        "stack_exit_code": code,
        **report,
    }
    report["targets"] = targets(report)
    report["notes"] = notes(report)
    report["output"] = str(output.relative_to(REPO) if output.is_relative_to(REPO) else output)
    report["run_seconds"] = round(time.perf_counter() - run_started, 1)
    summary = markdown(report)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    output.with_suffix(".md").write_text(summary + "\n", encoding="utf-8")
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
