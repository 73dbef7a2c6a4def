"""Load and soak: the real `rutinbot telegram` process against the fake Bot API on 127.0.0.1.

    python bench/load.py [--questions 2000] [--rate 10] [--staff 50] [--burst 20]
    python bench/load.py --soak 600 [--rate 10] [--warmup 60]

Simulated staff ask questions from ../shared/eval/dev.jsonl and bench/heldout*.jsonl (cycled),
every 50th one a question the bot must refuse; the bench prints throughput, answer latency
(from the update being offered in getUpdates until the fake server receives the message that
completes the answer), the bot's resident memory over time, and the counts received, answered,
refused and recorded (read from the bot's SQLite database after it stopped), which must match.
Targets on two cores: p95 under 1 s at 10 questions a second, nothing lost; `--soak` resident
memory flat within 10% (median of the first minute after the warm-up against the last minute).
Exit 1 on any mismatch or lost answer (or a soak that is not flat).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from common import DEV, HELDOUT_SETS, KNOWLEDGE, RESULTS, ROOT, load_questions

sys.path.insert(0, str(ROOT / "tests"))  # the fake Bot API the Telegram tests use

from fake_bot_api import TOKEN, Call, FakeBotAPI

from bot.adapters.text import ANSWERED, NOT_ANSWERED

HERE = RESULTS / "load"
INDEX = HERE / "index"  # built once, reused by every run; no other bench rebuilds it
SEED = RESULTS / "index-sample"  # the sample corpus's bench index: its vectors are reused
STAFF_BASE = 5_000_001  # simulated staff have user ids from here on
REFUSE_EVERY = 50  # every 50th question is one the bot must refuse
# What the bot must refuse, with the start of its Swedish reply (bot/answer/core.py).
REFUSALS = (("?! …", "Frågan innehåller inga ord"), ("ord " * 300, "Frågan är för lång"))
STARTUP_SECONDS = 300  # loading the model on a busy machine
TICK = 0.02  # seconds between looks at the fake server's calls


@dataclass
class Asked:
    """One question put to the bot and what became of it."""

    number: int
    chat: int
    refuse: bool  # the bot must refuse it
    offered: float  # monotonic time the update was queued for getUpdates
    update_id: int = 0
    first: float | None = None  # the answer's first message arrived
    done: float | None = None  # its last message (with the buttons), or the refusal, arrived
    outcome: str = ""  # "answered", "refused" or "error"


def questions(count: int) -> list[tuple[str, bool]]:
    """`count` (text, must be refused) pairs: the question sets cycled, with refusals mixed in."""
    # The dev set lives beside the project (../shared), not in it: used when it is there.
    sets = [path for path in (DEV, *HELDOUT_SETS) if path.exists()]
    pool = [q.question for path in sets for q in load_questions(path)]
    cycle = itertools.cycle(pool)
    refusals = itertools.cycle(REFUSALS)
    return [
        (next(refusals)[0], True) if i % REFUSE_EVERY == REFUSE_EVERY - 1 else (next(cycle), False)
        for i in range(count)
    ]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def rutinbot() -> list[str]:
    """The installed `rutinbot` command of this interpreter's environment."""
    script = Path(sys.executable).parent / "rutinbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def write_config(folder: Path, api: FakeBotAPI | None, staff: list[int]) -> Path:
    """A config.toml for the run: the sample corpus, the bench's index, a fresh database."""
    # json.dumps gives valid TOML basic strings for these paths and URLs.
    lines = [
        "[paths]",
        f"knowledge = {json.dumps(str(KNOWLEDGE))}",
        f"index = {json.dumps(str(INDEX))}",
        f"data = {json.dumps(str(folder / 'data'))}",
    ]
    if api is not None:
        lines += [
            "[telegram]",
            f"staff = {json.dumps(staff)}",
            f"base_url = {json.dumps(api.base_url)}",
            f"base_file_url = {json.dumps(api.base_file_url)}",
        ]
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def bot_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RUTINBOT_CONFIG")}
    env["TELEGRAM_BOT_TOKEN"] = TOKEN
    return env


def ensure_index(folder: Path) -> None:
    """Build the bench's index once with `rutinbot index`, reusing the vectors of the sample
    corpus's bench index when there is one (so only text never embedded before is encoded)."""
    if (INDEX / "current").exists():
        return
    INDEX.mkdir(parents=True, exist_ok=True)
    seed = SEED / "current"
    if seed.exists() and not any(INDEX.iterdir()):
        name = seed.resolve().name
        shutil.copytree(seed.resolve(), INDEX / name)
        (INDEX / "current").symlink_to(name)
    print("building the bench index once (rutinbot index) ...", file=sys.stderr)
    config = write_config(folder, None, [])
    done = subprocess.run(
        [*rutinbot(), "--config", str(config), "index", "--no-reask"],
        env=bot_environment(),
        stdout=subprocess.DEVNULL,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"rutinbot index failed with exit code {done.returncode}")


def rss_kib(pid: int) -> int | None:
    """The process's resident memory (VmRSS), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TimedBotAPI(FakeBotAPI):
    """The fake Bot API, noting when `getUpdates` first hands each update to the bot."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: dict[int, float] = {}  # update id -> monotonic time

    async def _m_getUpdates(self, params: dict, request: object) -> object:
        updates = await super()._m_getUpdates(params, request)
        if isinstance(updates, list):
            now = time.monotonic()
            for update in updates:
                self.fetched.setdefault(update["update_id"], now)
        return updates


class Ledger:
    """Matches what the fake server received to the questions, chat by chat, oldest first.

    A chat may have several questions open (answers are computed concurrently), so a refusal
    goes to its oldest open question that must be refused, an answer to its oldest other one:
    two latencies in one chat may swap, which leaves their distribution as it is. What the
    answers said is counted over all messages, exactly: each answer has one heading.
    """

    def __init__(self) -> None:
        self.asked: list[Asked] = []
        self.open: dict[int, deque[Asked]] = {}
        self.seen = 0  # calls of the fake server looked at
        self.rejected: list[Call] = []  # calls the fake server refused (bad HTML, too long ...)
        self.headings = 0  # answers begun ("Det här säger dokumenten:" or "Jag hittar inget ...")
        self.said_answered = 0  # ... of which said the documents answer the question
        self.methods: dict[str, int] = {}  # successful calls by method
        self.chat_calls: list[float] = []  # when each call to a chat arrived (rate-limited ones)

    def add(self, asked: Asked) -> None:
        self.asked.append(asked)
        self.open.setdefault(asked.chat, deque()).append(asked)

    def pending(self) -> int:
        return sum(len(q) for q in self.open.values())

    def busy(self, chat: int) -> bool:
        return bool(self.open.get(chat))

    def _take(self, chat: int, refuse: bool, *, first: bool = False) -> Asked | None:
        waiting = self.open.get(chat) or deque()
        for asked in waiting:
            if asked.refuse == refuse and not (first and asked.first is not None):
                return asked
        return None if first else (waiting[0] if waiting else None)

    def _close(self, asked: Asked, outcome: str, at: float) -> None:
        asked.outcome, asked.done = outcome, at
        asked.first = asked.first if asked.first is not None else at
        self.open[asked.chat].remove(asked)

    def collect(self, api: FakeBotAPI) -> None:
        with api._cond:  # the server thread appends under this lock
            calls = api.calls[self.seen :]
        self.seen += len(calls)
        for call in calls:
            if call.method == "getUpdates":
                continue
            if not call.ok:
                self.rejected.append(call)
                continue
            self.methods[call.method] = self.methods.get(call.method, 0) + 1
            if "chat_id" in call.params:
                self.chat_calls.append(call.at)
            if call.method != "sendMessage":
                continue
            chat, text = int(call.params["chat_id"]), call.result.get("text", "")
            heading = text.startswith((ANSWERED, NOT_ANSWERED[:20]))
            self.headings += heading
            self.said_answered += text.startswith(ANSWERED)
            if call.params.get("reply_markup"):
                asked = self._take(chat, refuse=False)
                outcome = "answered"
            elif any(text.startswith(start) for _, start in REFUSALS):
                asked = self._take(chat, refuse=True)
                outcome = "refused"
            elif heading:  # the first of an answer's several messages
                asked = self._take(chat, refuse=False, first=True)
                if asked is not None:
                    asked.first = call.at
                continue
            else:  # an error reply, or something the bot should not have sent
                asked = self._take(chat, refuse=False)
                outcome = "error"
            if asked is None:
                print(f"unexpected message to chat {chat}: {text[:60]!r}", file=sys.stderr)
                continue
            self._close(asked, outcome, call.at)


def bot_log(log: Path, asked: list[str]) -> bool:
    """Print the time the bot's handler took per question, from its own log line (answering
    and recording, waits for a worker thread included); False if the log holds a question."""
    text = log.read_text(encoding="utf-8", errors="replace")
    took = [float(s) for s in re.findall(r"answered=\w+ with \d+ passages in ([\d.]+)s", text)]
    if took:
        print(
            f"in the bot's handler (answer and record): median {statistics.median(took):.3f} s, "
            f"p95 {percentile(took, 0.95):.3f}"
        )
    leaked = [q for q in set(asked) if len(q) >= 20 and q in text]
    if leaked:
        print(f"MISMATCH: {len(leaked)} questions appear in the bot's log")
    return not leaked


def peak_rate(calls: list[float]) -> int:
    """The most calls within any one second."""
    calls, peak, first = sorted(calls), 0, 0
    for last, at in enumerate(calls):
        while at - calls[first] >= 1.0:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def recorded(database: Path) -> tuple[int, int]:
    """Questions the bot recorded from Telegram, and how many of them it said were answered."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions WHERE channel = ?",
            ("telegram",),
        ).fetchone()
    return int(row[0]), int(row[1])


def start_bot(config: Path, log: Path, api: FakeBotAPI) -> subprocess.Popen:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*rutinbot(), "--config", str(config), "telegram"],
            env=bot_environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=config.parent,
        )
    deadline = time.monotonic() + STARTUP_SECONDS
    while api.polls < 1:
        if proc.poll() is not None:
            sys.exit(f"the bot exited with code {proc.returncode} while starting; see {log}")
        if time.monotonic() > deadline:
            stop_bot(proc)
            sys.exit(f"the bot did not start polling within {STARTUP_SECONDS} s; see {log}")
        time.sleep(0.1)
    return proc


def stop_bot(proc: subprocess.Popen) -> int:
    """SIGTERM, as a service manager stops it; killed only if it does not stop in a minute."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def drive(args: argparse.Namespace, api: TimedBotAPI, proc: subprocess.Popen, ledger: Ledger):
    """Ask every question on schedule, follow the answers and sample memory; returns the
    memory samples (seconds since the first question, KiB) and the time of the first question."""
    todo = questions(args.questions)
    staff = [STAFF_BASE + n for n in range(args.staff)]
    turn = itertools.cycle(range(len(staff)))
    memory: list[tuple[float, int]] = []
    start = time.monotonic()
    next_sample = start
    sent = 0
    drain_until = None
    while True:
        now = time.monotonic()
        # Burst k is due at k * burst / rate seconds: the average rate is `rate`.
        due = min(len(todo), (int((now - start) * args.rate / args.burst) + 1) * args.burst)
        while sent < due:
            text, refuse = todo[sent]
            # A person waits for the answer before asking again, when someone else is free.
            for _ in range(len(staff)):
                chat = staff[next(turn)]
                if not ledger.busy(chat):
                    break
            update = api.message(chat, text)
            asked = Asked(sent + 1, chat, refuse, time.monotonic())
            asked.update_id = api.push(update)
            ledger.add(asked)
            sent += 1
        ledger.collect(api)
        if now >= next_sample:
            kib = rss_kib(proc.pid)
            if kib is not None:
                memory.append((now - start, kib))
            next_sample += args.sample
        if proc.poll() is not None:
            print(f"the bot exited with code {proc.returncode} during the run", file=sys.stderr)
            break
        if sent == len(todo):
            drain_until = drain_until or now + args.drain
            if not ledger.pending() or now > drain_until:
                break
        time.sleep(TICK)
    return memory, start


def rss_report(memory: list[tuple[float, int]], args: argparse.Namespace) -> bool:
    """Print memory over time; for a soak, whether it stayed flat."""
    if not memory:
        print("resident memory: no samples")
        return not args.soak
    mib = [(t, kib / 1024) for t, kib in memory]
    step = max(1, len(mib) // 12)
    points = ", ".join(f"{t:.0f}s {m:.0f}" for t, m in [*mib[::step], mib[-1]])
    print(f"resident memory (MiB) over time: {points}")
    values = [m for _, m in mib]
    print(
        f"resident memory: start {values[0]:.0f} MiB, peak {max(values):.0f}, end {values[-1]:.0f}"
    )
    if not args.soak:
        return True
    minutes: dict[int, list[float]] = {}
    for t, m in mib:
        minutes.setdefault(int(t // 60), []).append(m)
    medians = ", ".join(f"{n + 1}: {statistics.median(v):.0f}" for n, v in minutes.items())
    print(f"soak: median RSS (MiB) per minute: {medians}")
    # While questions are still being offered: the drain after the last one is not steady.
    first = [m for t, m in mib if args.warmup <= t < args.warmup + 60]
    last = [m for t, m in mib if args.soak - 60 <= t < args.soak]
    if not first or not last:
        print("soak: MEMORY NOT MEASURED (too short for a warm-up, a first and a last minute)")
        return False
    a, b = statistics.median(first), statistics.median(last)
    growth = (b - a) / a
    verdict = "flat" if abs(growth) <= 0.10 else "NOT FLAT"
    print(
        f"soak: median RSS {a:.1f} MiB in the first minute after {args.warmup:.0f} s of warm-up, "
        f"{b:.1f} MiB in the last minute: {growth:+.1%} ({verdict}; target within 10%)"
    )
    return abs(growth) <= 0.10


def report(ledger: Ledger, start: float, records: tuple[int, int] | None) -> bool:
    """Print counts, throughput and latency; False on any mismatch."""
    asked = ledger.asked
    answered = [a for a in asked if a.outcome == "answered"]
    refused = [a for a in asked if a.outcome == "refused"]
    errors = [a for a in asked if a.outcome == "error"]
    lost = [a for a in asked if not a.outcome]
    said = ledger.said_answered
    recorded_count, recorded_said = records if records else (-1, -1)
    print(
        f"received {len(asked)}, answered {len(answered)} (the documents answer {said}), "
        f"refused {len(refused)}, errors {len(errors)}, lost {len(lost)}, "
        f"recorded {recorded_count} (answered {recorded_said})"
    )
    if answered or refused:
        end = max(a.done for a in answered + refused)
        print(f"throughput: {(len(answered) + len(refused)) / (end - start):.2f} questions/s")
    if answered:
        done = [a.done - a.offered for a in answered]
        first = [a.first - a.offered for a in answered]
        p95 = percentile(done, 0.95)
        print(
            f"answer latency (offered -> last message): median {statistics.median(done):.3f} s, "
            f"p95 {p95:.3f}, p99 {percentile(done, 0.99):.3f}, max {max(done):.3f}"
        )
        print(
            f"first message latency: median {statistics.median(first):.3f} s, "
            f"p95 {percentile(first, 0.95):.3f}"
        )
        print(f"target p95 < 1 s: {'met' if p95 < 1 else 'MISSED'}")
    if refused:
        waits = [a.done - a.offered for a in refused]
        print(f"refusal latency: median {statistics.median(waits):.3f} s, max {max(waits):.3f}")
    problems = []
    if len(answered) + len(refused) != len(asked):
        problems.append(
            f"received {len(asked)} != answered {len(answered)} + refused {len(refused)}"
        )
    if recorded_count != len(answered):
        problems.append(f"recorded {recorded_count} != answered {len(answered)}")
    if ledger.headings != len(answered):
        problems.append(f"{ledger.headings} answers begun != {len(answered)} completed")
    if recorded_said != said:
        problems.append(f"recorded as answered {recorded_said} != said answered {said}")
    expected = sum(1 for a in asked if a.refuse)
    if len(refused) != expected or any(not a.refuse for a in refused):
        problems.append(f"refused {len(refused)}, expected exactly the {expected} unaskable ones")
    if ledger.rejected:
        methods = sorted({c.method for c in ledger.rejected})
        problems.append(f"{len(ledger.rejected)} calls refused by the Bot API ({methods})")
    for problem in problems:
        print(f"MISMATCH: {problem}")
    return not problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=10.0, help="questions a second (average)")
    parser.add_argument("--staff", type=int, default=50, help="simulated staff members")
    parser.add_argument("--burst", type=int, default=20, help="questions offered at once")
    parser.add_argument(
        "--soak", type=float, default=0, help="seconds at a steady rate (burst 1); sets --questions"
    )
    parser.add_argument("--warmup", type=float, default=60, help="soak: seconds before measuring")
    parser.add_argument("--drain", type=float, default=120, help="seconds to wait for answers")
    parser.add_argument("--sample", type=float, default=1.0, help="seconds between RSS samples")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (log, database)")
    args = parser.parse_args()
    if not (args.questions > 0 and args.rate > 0 and args.staff > 0 and args.burst > 0):
        parser.error("--questions, --rate, --staff and --burst must be positive")
    if args.soak:
        args.questions, args.burst = max(1, round(args.soak * args.rate)), 1

    HERE.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=HERE))
    ensure_index(folder)
    staff = [STAFF_BASE + n for n in range(args.staff)]
    print(
        f"{args.questions} questions at {args.rate:g}/s in bursts of {args.burst} from "
        f"{args.staff} staff; machine load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores",
        flush=True,
    )
    with TimedBotAPI() as api:
        config = write_config(folder, api, staff)
        proc = start_bot(config, folder / "bot.log", api)
        try:
            base_kib, base_cpu = rss_kib(proc.pid), cpu_seconds(proc.pid)
            ledger = Ledger()
            own_cpu = time.process_time()
            memory, start = drive(args, api, proc, ledger)
            own_cpu = time.process_time() - own_cpu  # the fake server's and this driver's
            cpu = cpu_seconds(proc.pid)
        finally:
            stopping = time.monotonic()
            code = stop_bot(proc)
            print(f"the bot stopped {time.monotonic() - stopping:.1f} s after SIGTERM")
        ledger.collect(api)
        fetched = [
            api.fetched[a.update_id] - a.offered for a in ledger.asked if a.update_id in api.fetched
        ]
    if base_kib:
        print(f"resident memory before the first question: {base_kib / 1024:.0f} MiB")
    flat = rss_report(memory, args)
    if cpu is not None and base_cpu is not None:
        used = cpu - base_cpu
        print(
            f"CPU time during the questions: bot {used:.1f} s "
            f"({1000 * used / len(ledger.asked):.0f} ms a question), this bench and the fake "
            f"server {own_cpu:.1f} s; load average now {os.getloadavg()[0]:.1f}"
        )
    calls = ", ".join(f"{m} {n}" for m, n in sorted(ledger.methods.items()))
    print(
        f"Bot API calls: {calls}; to chats {len(ledger.chat_calls) / len(ledger.asked):.2f} a "
        f"question, at most {peak_rate(ledger.chat_calls)} in one second (PTB's AIORateLimiter "
        "allows 30 a second overall)"
    )
    database = folder / "data" / "rutinbot.db"
    records = recorded(database) if database.exists() else None
    if fetched:
        print(
            f"offered -> fetched by getUpdates: median {statistics.median(fetched):.3f} s, "
            f"p95 {percentile(fetched, 0.95):.3f}"
        )
    ok = report(ledger, start, records)
    ok = bot_log(folder / "bot.log", [text for text, _ in questions(args.questions)]) and ok
    if code != 0:
        print(f"MISMATCH: the bot exited with code {code} on SIGTERM")
        ok = False
    if ok and not args.keep:
        shutil.rmtree(folder)
    else:
        print(f"run folder kept: {folder}")
    return 0 if ok and flat else 1


if __name__ == "__main__":
    sys.exit(main())
