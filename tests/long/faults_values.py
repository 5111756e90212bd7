"""The bad-value corpus (issue 12): hostile values and files written beside a vault
of good customers, then every listing and writing command run over it.

Each round drops a few generated files into ``customers/`` (impossible and extreme
dates, huge numbers, tags that are no list of words, nested junk, object tags,
entry headings and next steps out of range, FIFOs, links, names that are not
UTF-8, folders nested too deep) and runs the commands in-process through the real
click entry point.  Counted: inputs tried, internal errors (exit 70, a traceback,
a hang: must be 0) and good customers lost, unreadable or missing an entry that
was written (must be 0).  Run by ``tests/long/faults.py`` ("bad values").
"""

from __future__ import annotations

import os
import random
import shutil
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner

from crmnotes import actions
from crmnotes.cli import main
from crmnotes.vault import Vault
from tests.reliability.harness import Broken, EntryKey, Tally, all_entries, customer_files, entries

COMMAND_SECONDS = 60  # a command still running then is hung (a FIFO read would block forever)
HOSTILE = "zz"  # the folder under customers/ that the corpus goes to
Value = Callable[[random.Random], str]


# ------------------------------------------------------------------ the corpus


def _digits(rng: random.Random) -> str:
    return str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(rng.randint(100, 6000)))


def _impossible_date(rng: random.Random) -> str:
    year = rng.choice([1900, 2021, 2023, 2024, 2100])
    month, day = rng.choice([(2, 30), (2, 29), (4, 31), (13, 1), (0, 10), (6, 0), (12, 32)])
    return f"{year:04d}-{month:02d}-{day:02d}"


def _extreme_date(rng: random.Random) -> str:
    year = rng.choice([1, 2, 999, 1000, 1899, 3000, 5000, 9998, 9999])
    return f"{year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _extreme_time(rng: random.Random) -> str:
    return f"{_extreme_date(rng)}T{rng.choice(['00:00', '23:59', '10:30:00+14:00', '12:00:00Z'])}"


def _nested(rng: random.Random) -> str:
    depth = rng.randint(1, 300)
    opener, closer = rng.choice([("[", "]"), ("{a: ", "}")])
    return opener * depth + rng.choice(["1", "甲", "2024-02-30", "!!float x"]) + closer * depth


def _key(rng: random.Random) -> str:
    return rng.choice(["created", "next_followup", "visited", "birthday", "tags", "deals", "tickets", "amount",
                       "phone", "stage", "grade", "owner", "name", "count", "score", "备注", "合同日期"])


VALUES: list[Value] = [
    lambda r: _impossible_date(r),
    lambda r: _extreme_date(r),
    lambda r: _extreme_time(r),
    lambda r: f"{r.randint(1900, 2100)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T{r.choice(['25', '99'])}:00:00",
    lambda r: _digits(r),
    lambda r: "-" + _digits(r),
    lambda r: r.choice(["!!float abc", "!!float 1e99999", "!!int 十二", "!!int 0x", "!!bool 也许", "!!null x"]),
    lambda r: r.choice([".nan", ".inf", "-.inf", "1e400", "-1e400", "0.0000000000000000001"]),
    lambda r: r.choice(["!!binary 5L2g5aW9", "!!set {甲, 乙}", "!!omap [a: 1]", "!!pairs [a: 1]",
                        "!!timestamp 昨天", "!!timestamp 2024-02-30", "!!str", "!!seq 1", "!!map 1"]),
    lambda r: r.choice(["!!python/object/apply:os.system ['true']", "!!python/name:os.system", "!foo bar",
                        "&a 1", "*a"]),
    lambda r: _nested(r),
    lambda r: r.choice(["{a: 1}", "[[1, 2], {a: b}, null, true, 3.5]", "[]", "{}", "null", "~", "''"]),
    lambda r: r.choice(['"北\\x01京"', '"\\x1b[2J\\x1b]52;c;AAAA\\x07"', '"\\u202e反转"', '"a\\0b"', '"\\x85\\u2028"']),
    lambda r: "[" + ", ".join(r.choice(["2024-02-30", "1e400", "{x: 1}", "[1]", "甲"]) for _ in range(r.randint(1, 50)))
    + "]",
    lambda r: "x" * r.randint(1, 300_000),
]

def _deal(rng: random.Random) -> str:
    amount = rng.choice([".inf", ".nan", "-5", _digits(rng)[:300], "abc"])
    probability = rng.choice([".nan", "1e400", "-1", "999", "[1]"])
    close = rng.choice([_extreme_date(rng), "昨天", "[1]"])
    return f"[{{name: 大单, stage: negotiation, amount: {amount}, probability: {probability}, close: {close}}}]"


def _ticket(rng: random.Random) -> str:
    status = rng.choice(["open", "[1]", "{a: 1}"])
    due = rng.choice([_extreme_date(rng), _impossible_date(rng) + " x", "1e400"])
    rating = rng.choice(["99", ".nan"])
    return f"[{{subject: 投诉, status: {status}, opened: {_extreme_date(rng)}, due: {due}, satisfaction: {rating}}}]"


DEAL_VALUES: list[Value] = [
    _deal,
    lambda r: r.choice(["5", "[1, 2]", "[[{}]]", "{name: x}", "[{amount: {a: 1}}]", "[{stage: [1], owner: {x: 1}}]"]),
]
TICKET_VALUES: list[Value] = [_ticket]

BODIES: list[Value] = [
    lambda r: f"### {_extreme_date(r)} 10:00 · phone · alice\n超出范围的记录\n",
    lambda r: f"### {_impossible_date(r)} 25:61 · phone\n不存在的日子\n",
    lambda r: f"### 2025-03-01 10:00 · phone · alice\n正常\nnext: {_extreme_date(r)} 太远\n",
    lambda r: "### " + "9" * r.randint(5, 5000) + "-01-01 10:00\n",
    lambda r: "### 2025-03-01 10:00 · " + "\x1b[31m" * r.randint(1, 50) + "\n" + "(" * 500 + "\n",
    lambda r: "<<<<<<< ours\n### 2025-03-01 10:00 · phone\n甲\n=======\n### 2025-03-01 10:00 · phone\n乙\n"
    ">>>>>>> theirs\n",
    lambda r: "",
]


def hostile_file(rng: random.Random, number: int) -> bytes:
    """One customer file whose front-matter or body holds something hostile."""
    lines = [f"id: c-20250101-zz{number:06d}", f"name: 坏值{number}号", "industry: internet", "contact: 王伟",
             "phone: '13800138000'", "stage: intent"]
    for _ in range(rng.randint(1, 3)):
        pick = rng.random()
        if pick < 0.15:
            lines.append(f"deals: {rng.choice(DEAL_VALUES)(rng)}")
        elif pick < 0.25:
            lines.append(f"tickets: {rng.choice(TICKET_VALUES)(rng)}")
        else:
            lines.append(f"{_key(rng)}: {rng.choice(VALUES)(rng)}")
    by_key = {line.split(":", 1)[0]: line for line in lines}  # a repeated key would only test duplicate keys
    body = rng.choice(BODIES)(rng)
    return ("---\n" + "\n".join(by_key.values()) + "\n---\n\n# 坏值\n\n## 跟进记录\n\n" + body).encode()


def odd_entry(rng: random.Random, folder: Path, number: int) -> str:
    """Something in customers/ that is not a plain file with a plain name; returns what it was."""
    kind = rng.choice(["fifo", "fifo-link", "link-out", "link-folder", "undecodable", "deep", "folder.md", "empty",
                       "binary", "unreadable"])
    target = folder / f"odd{number}.md"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "fifo-link":
        os.mkfifo(folder / f"odd{number}-pipe")
        target.symlink_to(f"odd{number}-pipe")
    elif kind == "link-out":
        target.symlink_to("/etc/hostname")
    elif kind == "link-folder":
        target.symlink_to("..", target_is_directory=True)
    elif kind == "undecodable":
        with open(os.fsencode(folder) + b"/" + f"乱码{number}".encode("gbk") + b".md", "wb") as handle:
            handle.write(hostile_file(rng, number))
    elif kind == "deep":
        deep = folder / f"deep{number}"
        deep.mkdir()
        for _ in range(rng.randint(33, 200)):
            deep = deep / "d"
            deep.mkdir()
        (deep / "buried.md").write_bytes(hostile_file(rng, number))
    elif kind == "folder.md":
        target.mkdir()
    elif kind == "empty":
        target.write_bytes(b"")
    elif kind == "binary":
        target.write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    else:
        target.write_bytes(hostile_file(rng, number))
        target.chmod(0)
    return kind


# ------------------------------------------------------------------ running the commands


class _Hung(BaseException):
    """Raised by the alarm; a BaseException so that neither crm's error handler nor click's runner eats it."""


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def expired(_signum: int, _frame: object) -> None:
        raise _Hung()

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _commands(out: Path, good: str, bad: str) -> list[list[str]]:
    return [
        ["ls"], ["ls", "--json"], ["ls", "--sort", "created"], ["due"], ["due", "--json"], ["check", "--json"],
        ["search", "数据安全"], ["search", "created:2020..2030 OR last:<30d", "--json"], ["index"],
        ["report"], ["report", "forecast"], ["report", "churn"], ["report", "activity"], ["report", "tags", "--json"],
        ["deal", "ls"], ["ticket", "ls"],
        ["export", "-o", str(out / "x.csv")], ["export", "-o", str(out / "x.xlsx")],
        ["export", "--format", "json", "-o", str(out / "x.json")],
        ["export", "--format", "ics", "-o", str(out / "x.ics")],
        ["export", "--format", "vcf", "-o", str(out / "x.vcf")],
        ["show", good, "--json"], ["show", bad], ["show", bad, "--json"], ["set", bad, "grade=B"],
        ["log", bad, "--note", "写入坏文件", "--at", "2025-06-01 10:00"],
    ]


def _run(root: Path, args: list[str], tally: Tally, failures: Counter[str]) -> int:
    tally.inputs += 1
    try:
        with _deadline(COMMAND_SECONDS):
            result = CliRunner().invoke(main, ["--vault", str(root), *args])
    except _Hung:
        failures[f"hang: crm {' '.join(args)[:80]}"] += 1
        return -1
    text = f"{result.stdout}{result.stderr}"
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    if result.exit_code == 70 or exception is not None or "Traceback" in text:
        detail = repr(exception) if exception is not None else text.strip().splitlines()[-1][:200]
        failures[f"crm {args[0]}: {detail}"] += 1
    return result.exit_code


def _clear(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)  # deep folders stop at 200 levels: within rmtree's recursion

def bad_values(base: Path, seed: int, rounds: int) -> Tally:
    """``rounds`` rounds of 1-4 hostile inputs each, every command after each round."""
    rng = random.Random(seed)
    tally = Tally()
    failures: Counter[str] = Counter()
    root = actions.create_vault(base / "vault", example=True)
    out = base / "out"
    out.mkdir()
    good_files = customer_files(root)
    expected: dict[str, Counter[EntryKey]] = all_entries(good_files)
    names = {rel: Vault(root).read(root / rel).name for rel in good_files}
    folder = root / "customers" / HOSTILE
    number = 0
    for round_no in range(rounds):
        folder.mkdir(exist_ok=True)
        for _ in range(rng.randint(1, 4)):
            number += 1
            tally.faults += 1
            if rng.random() < 0.2:
                tally.notes[f"file system: {odd_entry(rng, folder, number)}"] += 1
            else:
                (folder / f"bad{number}.md").write_bytes(hostile_file(rng, number))
        good_rel = rng.choice(sorted(good_files))
        bad = str(folder / f"bad{number}.md")
        for args in _commands(out, names[good_rel], bad):
            _run(root, args, tally, failures)
        note = f"好客户照常记录 {round_no}"
        before = entries((root / good_rel).read_bytes())
        if _run(root, ["log", names[good_rel], "--note", note, "--at", "2025-06-01 10:00"], tally, failures) != 0:
            failures[f"crm log on a good customer refused: {good_rel}"] += 1
        added = entries((root / good_rel).read_bytes()) - before
        expected[good_rel] += Counter({key: 1 for key in added if key[3] == note})
        _run(root, ["set", names[good_rel], f"city=城市{round_no}"], tally, failures)
        tally.lost += _good_customers_lost(root, expected, failures)
        if round_no % 5 == 4:
            _clear(folder)
    _clear(folder)
    tally.notes["internal errors"] = sum(failures.values())
    if failures:
        worst = ", ".join(f"{what} (x{count})" for what, count in failures.most_common(3))
        raise Broken(f"{sum(failures.values())} internal errors or hangs: {worst}")
    return tally


def _good_customers_lost(root: Path, expected: dict[str, Counter[EntryKey]], failures: Counter[str]) -> int:
    """Good customers that are missing, unreadable or short of an entry (each counts the entries it lacks, or 1)."""
    lost = 0
    try:
        scan = Vault(root).scan()
    except Exception as exc:  # the scan every listing runs: any exception here is an internal error
        failures[f"Vault.scan: {exc!r}"[:200]] += 1
        return 0
    readable = {Path(c.path).relative_to(root).as_posix() for c in scan.customers}
    for rel, wanted in expected.items():
        if rel not in readable:
            failures[f"good customer unreadable: {rel}"] += 1
            lost += max(1, sum(wanted.values()))
            continue
        lost += sum((wanted - entries((root / rel).read_bytes())).values())
    return lost
