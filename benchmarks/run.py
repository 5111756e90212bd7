"""The benchmark suite: one command, a markdown table, benchmarks/results.json.

``python benchmarks/run.py`` generates synthetic vaults (gen_vault.py) of
1,000 and 10,000 customers (50,000 with ``--large``; ``--quick`` does 1,000
only with fewer repeats) and measures every figure of the performance issue
whose command exists in this checkout; a figure whose command is missing
(``crm <cmd> --help`` fails) is reported as skipped, not as a crash.

Each figure is the median of several runs.  Commands run as real processes;
peak memory is the larger of the process's own maximum RSS (GNU ``time``)
and the sum over its process tree sampled every 20 ms (multiprocess builds).
Baselines run in the same session and are reported as ratios: ripgrep
(``rg -l WORD``; ``apt-get install -y ripgrep``), a plain Python scan (read
every file, substring test) and parsing every file with python-frontmatter.

In-process figures (search latency, TUI first paint, the Python scan) run in
a fresh child process started as ``run.py --helper KIND VAULT``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
# gen_vault (and through it crmnotes) is imported only where a vault or CSV is made: the helper
# processes that time imports (TUI first paint, first search) must start with nothing loaded.

PYTHON = sys.executable
CRM = [PYTHON, "-m", "crmnotes"]
VAULTS = HERE / "vaults"
RESULTS = HERE / "results.json"
SEED = 1
WORDS = {"english": "integration", "chinese": "数据安全"}
QUERY_MIX = [
    ("english word", "integration"),
    ("chinese word", "数据安全"),
    ("phrase", '"annual contract"'),
    ("field filter", "stage:intent"),
    ("combined boolean", "(数据安全 OR integration) AND grade:A AND NOT stage:lost"),
    ("pinyin", "xingchen"),
]
TOKEN_PREFIX = "zqxbench"
TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


@dataclass
class Figure:
    key: str
    label: str
    target: str = ""
    check: Callable[[dict[str, Any]], bool | None] | None = None  # met at 10,000? None: cannot tell


def _le(key: str, limit: float) -> Callable[[dict[str, Any]], bool | None]:
    return lambda r: None if r.get(key) is None else r[key] <= limit


FIGURES = [
    Figure("index_build", "full index build (`crm index --rebuild`)", "≤ 45 s, ≤ 600 MB",
           lambda r: None if r.get("median") is None else r["median"] <= 45 and (r.get("peak_mb") or 0) <= 600),
    Figure("index_noop", "`crm index`, nothing changed", "≤ 0.3 s", _le("median", 0.3)),
    Figure("watch_start", "`crm watch` start until it reports ready", "", None),
    Figure("watch_write", "write → searchable, watcher running (in-place write)", "p95 ≤ 0.5 s", _le("p95", 0.5)),
    Figure("watch_rename", "write → searchable, watcher running (temp file + rename)", "p95 ≤ 0.5 s",
           _le("p95", 0.5)),
    Figure("search_inproc", "search in process, query mix, nothing cached (p50 / p95)", "p95 ≤ 30 ms, p50 < rg", None),
    Figure("search_warm", "search in process, postings already decoded (as while typing in the TUI)", "", None),
    Figure("search_cold", "first search in a fresh process (import + open index)", "", None),
    Figure("search_proc", "`crm search 数据安全 --json` as a process", "≤ 0.4 s", _le("median", 0.4)),
    Figure("ls_json", "`crm ls --json` as a process", "≤ 0.4 s", _le("median", 0.4)),
    Figure("ls_json_changed", "`crm ls --json` after one file changed", "within 10% of `ls --json`",
           lambda r: None if r.get("vs_unchanged") is None else r["vs_unchanged"] <= 1.10),
    Figure("due_json", "`crm due --json` as a process", "≤ 0.4 s", _le("median", 0.4)),
    Figure("ls_json_worked_out", "`crm ls --json` with no answer kept (worked out from the listing cache)", "",
           None),
    Figure("due_json_changed", "`crm due --json` after one file changed", "", None),
    Figure("due_json_worked_out", "`crm due --json` with no answer kept", "", None),
    Figure("report_funnel", "`crm report funnel --json` as a process", "", None),
    Figure("report_funnel_changed", "`crm report funnel --json` after one file changed (worked out whole)", "",
           None),
    Figure("tui_paint", "TUI first table paint (headless run_test)", "≤ 1.0 s", _le("median", 1.0)),
    Figure("check_full", "`crm check`, first run (nothing cached)", "", None),
    Figure("check_cached", "`crm check`, nothing changed since the last check", "≤ 0.5 s", _le("median", 0.5)),
    Figure("export_csv", "`crm export --format csv`", "≤ 1.5 s", _le("median", 1.5)),
    Figure("sync_50", "`crm sync`, 50 changed files, local bare remote", "≤ 2 s", _le("median", 2.0)),
    Figure("sync_one", "`crm sync`, one changed file, local bare remote", "", None),
    Figure("history", "`crm history ID --json` of a customer changed by the sync runs", "", None),
    Figure("report_slowest", "`crm report NAME --json`, the slowest of every report name", "≤ 0.3 s",
           _le("median", 0.3)),
    Figure("import_csv", "`crm import` of a CSV with one row per customer", "≤ 20 s (10,000 rows)",
           _le("median", 20.0)),
    Figure("rg_english", "baseline: `rg -l integration`", "", None),
    Figure("rg_chinese", "baseline: `rg -l 数据安全`", "", None),
    Figure("gitgrep_chinese", "baseline: `git grep --no-index -l 数据安全`", "", None),
    Figure("fts5_build", "baseline: SQLite FTS5 table built over every file (process)", "", None),
    Figure("fts5_query", "baseline: SQLite FTS5 query `数据安全` as a process", "", None),
    Figure("pyscan_english", "baseline: Python read-all + substring, `integration`", "", None),
    Figure("pyscan_chinese", "baseline: Python read-all + substring, `数据安全`", "", None),
    Figure("frontmatter_parse", "baseline: python-frontmatter parses every file (process)", "", None),
    Figure("git_status", "baseline: `git status --porcelain` in the synced vault, one file changed", "", None),
    Figure("git_log_path", "baseline: `git log -- PATH` of the customer `crm history` shows", "", None),
]


# The targets at 100,000 customers (issue 19), judged on a ``--scale`` run of any size.
SCALE_TARGETS: dict[str, tuple[str, Callable[[dict[str, Any]], bool | None]]] = {
    "index_build": ("≤ 240 s, ≤ 600 MB", lambda r: _le("median", 240)(r) and (r.get("peak_mb") or 0) <= 600),
    "index_noop": ("≤ 0.5 s", _le("median", 0.5)),
    "search_proc": ("≤ 0.5 s", _le("median", 0.5)),
    "ls_json": ("≤ 0.5 s, ≤ 150 MB", lambda r: _le("median", 0.5)(r) and (r.get("peak_mb") or 0) <= 150),
    "due_json": ("≤ 0.5 s", _le("median", 0.5)),
    "search_inproc": ("p95 ≤ 50 ms", _le("p95", 0.050)),
    "tui_paint": ("≤ 1.0 s", _le("median", 1.0)),
    "check_cached": ("≤ 1 s", _le("median", 1.0)),
    "report_funnel": ("≤ 1 s", _le("median", 1.0)),
    "report_slowest": ("≤ 1 s", _le("median", 1.0)),
    "sync_one": ("≤ 1.5 s", _le("median", 1.5)),
    "history": ("≤ 0.3 s", _le("median", 0.3)),
    "export_csv": ("≤ 5 s", _le("median", 5.0)),
    "watch_start": ("≤ 3 s", _le("median", 3.0)),
    "watch_write": ("p95 ≤ 0.5 s", _le("p95", 0.5)),
    "watch_rename": ("p95 ≤ 0.5 s", _le("p95", 0.5)),
}


def _search_check(r: dict[str, Any]) -> bool | None:
    if r.get("p95") is None:
        return None
    rg = r.get("rg_seconds")
    return r["p95"] <= 0.030 and (rg is None or r["p50"] < rg)


next(f for f in FIGURES if f.key == "search_inproc").check = _search_check


# ------------------------------------------------------------------ processes


@dataclass
class Run:
    seconds: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (0 once gone)."""
    total, todo = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * page
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo += [int(c) for c in handle.read().split()]
        except (OSError, ValueError):
            continue
    return total


def run(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 1800) -> Run:
    """Run a process; wall time, peak memory, output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as rss:
        # GNU time reports the command's own peak; os.wait4's would include the forked Python's pages.
        if TIME:
            args = [TIME, "-f", "%M", "-o", rss.name, *args]
        started = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL)
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.02):
                peak = max(peak, _tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
            time.sleep(0.002)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        del usage
        reported = rss.read().decode().strip().splitlines() if TIME else []
        own_kb = int(reported[-1]) if reported and reported[-1].isdigit() else 0
        peak_mb = max(peak / 2**20, own_kb / 1024)
        return Run(seconds, peak_mb, proc.returncode, out.read().decode("utf-8", "replace"),
                   err.read().decode("utf-8", "replace"))


def crm(vault: Path, *args: str, **kw: Any) -> Run:
    return run([*CRM, "--vault", str(vault), *args], **kw)


_HAVE: dict[str, bool] = {}


def have(*command: str) -> bool:
    """Does ``crm COMMAND --help`` succeed in this checkout?"""
    key = " ".join(command)
    if key not in _HAVE:
        _HAVE[key] = run([*CRM, *command, "--help"]).returncode == 0
    return _HAVE[key]


def median_of(runs: list[Run]) -> dict[str, Any]:
    failed = [r for r in runs if r.returncode != 0]
    if failed:
        message = failed[0].stderr.strip() or failed[0].stdout.strip()
        return {"error": message[-300:] or f"exit {failed[0].returncode}"}
    return {"median": statistics.median(r.seconds for r in runs), "peak_mb": max(r.peak_mb for r in runs),
            "runs": [round(r.seconds, 4) for r in runs]}


def repeat(times: int, action: Callable[[], Run]) -> dict[str, Any]:
    return median_of([action() for _ in range(times)])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ------------------------------------------------------------------ figures


@dataclass
class Bench:
    size: int
    vault: Path
    repeats: int
    heavy_repeats: int
    results: dict[str, Any] = field(default_factory=dict)

    def skip(self, key: str, why: str) -> None:
        self.results[key] = {"skipped": why}

    def measure_all(self, save: Callable[[], None] = lambda: None, only: list[str] | None = None) -> dict[str, Any]:
        steps = [self.baselines, self.index, self.search, self.listing, self.check, self.export, self.tui, self.watch,
                 self.sync, self.reports, self.import_csv]
        for step in steps:
            if only and step.__name__ not in only:
                continue
            started = time.perf_counter()
            try:
                step()
            except Exception as exc:  # one broken figure must not lose the others
                self.results.setdefault(f"{step.__name__}_error", {"error": f"{type(exc).__name__}: {exc}"})
            log(f"  {step.__name__}: {time.perf_counter() - started:.1f} s")
            save()  # a long run interrupted later still leaves what it measured
        return self.results

    def baselines(self) -> None:
        rg = shutil.which("rg")
        for kind, word in WORDS.items():
            if rg:
                self.results[f"rg_{kind}"] = repeat(self.repeats, lambda w=word: _ok_on_1(
                    run([rg, "-l", "--no-messages", w, str(self.vault / "customers")])))
            else:
                self.skip(f"rg_{kind}", "ripgrep not installed (apt-get install -y ripgrep)")
        scan = helper("scan", self.vault)
        for kind in WORDS:
            self.results[f"pyscan_{kind}"] = scan.get(kind, scan)
        customers = str(self.vault / "customers")
        self.results["gitgrep_chinese"] = repeat(self.repeats, lambda: _ok_on_1(
            run(["git", "grep", "--no-index", "-l", WORDS["chinese"], "--", customers])))
        fts = self.vault.parent / f"{self.vault.name}-fts5.sqlite3"
        self.results["fts5_build"] = repeat(1, lambda: run([PYTHON, "-c", FTS5_BUILD, customers, str(fts)]))
        self.results["fts5_query"] = repeat(self.repeats, lambda: run([PYTHON, "-c", FTS5_QUERY, str(fts),
                                                                        WORDS["chinese"]]))
        script = ("import pathlib, sys, frontmatter\n"
                  "files = sorted(pathlib.Path(sys.argv[1]).rglob('*.md'))\n"
                  "print(sum(1 for p in files if frontmatter.load(p).metadata))")
        self.results["frontmatter_parse"] = repeat(self.repeats, lambda: run(
            [PYTHON, "-c", script, str(self.vault / "customers")]))

    def index(self) -> None:
        if not have("index"):
            for key in ("index_build", "index_noop"):
                self.skip(key, "no `crm index` yet")
            return
        self.results["index_build"] = repeat(self.heavy_repeats, lambda: crm(self.vault, "index", "--rebuild"))
        self.results["index_noop"] = repeat(self.repeats, lambda: crm(self.vault, "index"))

    def search(self) -> None:
        if not have("search"):
            for key in ("search_inproc", "search_cold", "search_proc"):
                self.skip(key, "no `crm search` yet")
            return
        data = helper("search", self.vault)
        if "error" in data:
            self.results["search_inproc"] = data
        else:
            rg = self.results.get("rg_english", {}).get("median")
            self.results["search_inproc"] = {**data["mix"], "rg_seconds": rg}
            self.results["search_warm"] = {**data["warm"], "rg_seconds": rg}
            self.results["search_cold"] = {"median": data["cold"]}
        self.results["search_proc"] = repeat(self.repeats,
                                             lambda: crm(self.vault, "search", WORDS["chinese"], "--json"))

    def listing(self) -> None:
        crm(self.vault, "ls", "--json")  # the listing cache is built once per vault, not timed
        self.results["ls_json"] = repeat(self.repeats, lambda: crm(self.vault, "ls", "--json"))
        changed = min((self.vault / "customers").rglob("*.md"))

        def after_one_change() -> Run:
            _append_entry(changed, "列表基准：改了一个文件")  # the listing must re-read this one file only
            return crm(self.vault, "ls", "--json")

        self.results["ls_json_changed"] = repeat(self.repeats, after_one_change)
        unchanged, after = self.results["ls_json"].get("median"), self.results["ls_json_changed"].get("median")
        if unchanged and after:
            self.results["ls_json_changed"]["vs_unchanged"] = after / unchanged
        self.results["ls_json_worked_out"] = repeat(self.repeats, lambda: self._unkept("ls", "--json"))
        self.results["due_json"] = repeat(self.repeats, lambda: crm(self.vault, "due", "--json"))
        self.results["due_json_worked_out"] = repeat(self.repeats, lambda: self._unkept("due", "--json"))
        self.results["due_json_changed"] = repeat(self.repeats, lambda: self._after_change(changed, "due", "--json"))
        if have("report"):
            self.results["report_funnel"] = repeat(self.repeats, lambda: crm(self.vault, "report", "funnel", "--json"))
            self.results["report_funnel_changed"] = repeat(self.repeats, lambda: self._after_change(
                changed, "report", "funnel", "--json"))
        else:
            self.skip("report_funnel", "no `crm report` yet")
        fm = self.results.get("frontmatter_parse", {}).get("median")
        if fm and "median" in self.results["ls_json"]:
            self.results["ls_json"]["vs_frontmatter"] = self.results["ls_json"]["median"] / fm

    def _unkept(self, *args: str) -> Run:
        """``crm ARGS`` with no answer kept: worked out from the listing cache, as before answers were kept."""
        shutil.rmtree(self.vault / ".crmnotes" / "answers", ignore_errors=True)
        return crm(self.vault, *args)

    def _after_change(self, changed: Path, *args: str) -> Run:
        """``crm ARGS`` just after one customer file changed: no kept answer holds, it is worked out."""
        _append_entry(changed, "基准：改了一个文件")
        return crm(self.vault, *args)

    def check(self) -> None:
        if not have("check"):
            for key in ("check_full", "check_cached"):
                self.skip(key, "no `crm check` yet")
            return
        cache = self.vault / ".crmnotes" / "check.sqlite3"

        def full() -> Run:
            cache.unlink(missing_ok=True)
            return crm(self.vault, "check", "--json")

        self.results["check_full"] = repeat(1, full)
        self.results["check_cached"] = repeat(self.repeats, lambda: crm(self.vault, "check", "--json"))

    def export(self) -> None:
        if not have("export"):
            self.skip("export_csv", "no `crm export` yet")
            return
        target = self.vault.parent / f"{self.vault.name}-export.csv"
        self.results["export_csv"] = repeat(self.repeats, lambda: crm(self.vault, "export", "--format", "csv",
                                                                       "-o", str(target)))
        target.unlink(missing_ok=True)

    def tui(self) -> None:
        if not have("tui"):
            self.skip("tui_paint", "no `crm tui` yet")
            return
        runs = [helper("tui", self.vault) for _ in range(self.repeats)]
        bad = [r for r in runs if "error" in r]
        self.results["tui_paint"] = bad[0] if bad else {
            "median": statistics.median(r["seconds"] for r in runs), "peak_mb": max(r["peak_mb"] for r in runs),
            "rows": runs[0]["rows"], "runs": [round(r["seconds"], 3) for r in runs]}

    def watch(self) -> None:
        if not (have("watch") and have("search")):
            for key in ("watch_write", "watch_rename"):
                self.skip(key, "no `crm watch` yet")
            return
        crm(self.vault, "index")
        started = time.perf_counter()
        proc = subprocess.Popen([*CRM, "--vault", str(self.vault), "watch"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
        try:
            ready = _wait_line(proc, 120)
            self.results["watch_start"] = ({"median": time.perf_counter() - started, "runs": 1} if ready
                                           else {"error": "crm watch printed nothing within 120 s"})
            for key, rename in (("watch_write", False), ("watch_rename", True)):
                if not ready:
                    self.results[key] = {"error": "crm watch printed nothing within 120 s"}
                    continue
                result = helper("watch", self.vault, "--rename" if rename else "--in-place",
                                "--samples", str(max(self.repeats * 2, 8)))
                if "peak_mb" in result:  # the polling helper's own memory, not the watcher's
                    result["poller_peak_mb"] = result.pop("peak_mb")
                self.results[key] = result
            if ready and (peak := peak_rss_mb(proc.pid)) is not None:
                self.results["watch_start"]["peak_mb"] = peak  # the watcher's, over start and every sample
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def sync(self) -> None:
        if not have("sync"):
            self.skip("sync_50", "no `crm sync` yet")
            return
        remote = self.vault.parent / f"{self.vault.name}-remote.git"
        shutil.rmtree(remote, ignore_errors=True)
        env = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
               "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
        git = ["git", "-C", str(self.vault)]
        if not (self.vault / ".git").exists():
            for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "bench vault"]):
                run([*git, *args], env=env)
        run(["git", "clone", "-q", "--bare", str(self.vault), str(remote)])
        run([*git, "remote", "remove", "origin"])
        run([*git, "remote", "add", "origin", str(remote)])
        run([*git, "push", "-q", "-u", "origin", "main"], env=env)
        files = sorted((self.vault / "customers").rglob("*.md"))
        runs = []
        for attempt in range(self.repeats):
            for path in files[attempt * 50 : attempt * 50 + 50]:
                _append_entry(path, f"sync benchmark {attempt}")
            runs.append(crm(self.vault, "sync", "-m", f"bench {attempt}", env=env))
        self.results["sync_50"] = median_of(runs)
        self.sync_one(files[-1], env)
        waited = _wait_for_git_gc(self.vault)
        if waited:  # (kept in results.json: the steps after this one are measured once it is done)
            self.results["sync_one"]["git_gc_after_seconds"] = round(waited, 1)

    def sync_one(self, path: Path, env: dict[str, str]) -> None:
        """One changed file (git's own `status` in the same state is the baseline), then the history of
        that customer, which every run changed (git's `log -- PATH` the baseline)."""
        runs, plain = [], []
        for attempt in range(self.repeats):
            _append_entry(path, f"sync one {attempt}")
            plain.append(run(["git", "-C", str(self.vault), "status", "--porcelain"]))
            runs.append(crm(self.vault, "sync", "-m", f"one {attempt}", env=env))
        self.results["git_status"] = median_of(plain)
        self.results["sync_one"] = median_of(runs)
        found = re.search(r"^id: *(\S+)", path.read_text(encoding="utf-8"), re.MULTILINE)
        if not have("history") or found is None:
            self.skip("history", "no `crm history` yet" if found else f"no id in {path}")
            return
        rel = path.relative_to(self.vault).as_posix()
        self.results["git_log_path"] = repeat(self.repeats, lambda: run(
            ["git", "-C", str(self.vault), "log", "--name-status", "--format=%H", "--", rel]))
        self.results["history"] = repeat(self.repeats, lambda: crm(self.vault, "history", found[1], "--json"))

    def reports(self) -> None:
        """Every report name as a process; the figure is the slowest name's median (all are kept)."""
        from crmnotes.reports import REPORTS as names

        if not have("report"):
            self.skip("report_slowest", "no `crm report` yet")
            return
        each = {name: repeat(self.repeats, lambda n=name: crm(self.vault, "report", n, "--json")) for name in names}
        failed = {name: r for name, r in each.items() if "median" not in r}
        if failed:
            name, result = next(iter(failed.items()))
            self.results["report_slowest"] = {"error": f"{name}: {result.get('error', '')}"}
            return
        slowest = max(each, key=lambda n: each[n]["median"])
        first = {n: r["runs"][0] for n, r in each.items()}  # each name's first run works its answer out
        self.results["report_slowest"] = {**each[slowest], "name": slowest,
                                          "each": {n: round(r["median"], 3) for n, r in each.items()},
                                          "slowest_worked_out": max(first.values()),
                                          "slowest_worked_out_name": max(first, key=first.__getitem__)}

    def import_csv(self) -> None:
        if not have("import"):
            self.skip("import_csv", "no `crm import` yet")
            return
        table = self.vault.parent / f"import-{self.size}.csv"
        write_import_csv(table, self.size)
        runs = []
        for attempt in range(self.heavy_repeats):
            target = self.vault.parent / f"import-{self.size}-{attempt}"
            shutil.rmtree(target, ignore_errors=True)
            from crmnotes import actions

            actions.create_vault(target)
            runs.append(crm(target, "import", str(table), "--json", "--skip-bad", "--owner", "bench"))
            shutil.rmtree(target, ignore_errors=True)
        self.results["import_csv"] = median_of(runs)
        if runs and runs[0].returncode == 0:
            self.results["import_csv"]["rows"] = self.size


FTS5_BUILD = """
import pathlib, sqlite3, sys
out = pathlib.Path(sys.argv[2])
out.unlink(missing_ok=True)
db = sqlite3.connect(out)
db.execute("CREATE VIRTUAL TABLE notes USING fts5(path UNINDEXED, body, tokenize='trigram')")
with db:
    db.executemany("INSERT INTO notes VALUES (?, ?)", ((str(p), p.read_text(encoding="utf-8"))
                   for p in sorted(pathlib.Path(sys.argv[1]).rglob("*.md"))))
db.close()
"""
# trigram: the FTS5 tokenizer that finds Chinese words without a segmenter (substring match, like rg)
FTS5_QUERY = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(len(db.execute("SELECT path FROM notes WHERE notes MATCH ?", ('"' + sys.argv[2] + '"',)).fetchall()))
"""


def _ok_on_1(result: Run) -> Run:
    """rg exits 1 when nothing matched: not a failure for a timing."""
    if result.returncode == 1:
        result.returncode = 0
    return result


def _wait_line(proc: subprocess.Popen[str], timeout: float) -> bool:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline() if proc.stdout else ""), daemon=True)
    reader.start()
    reader.join(timeout)
    return bool(box and box[0])


def _append_entry(path: Path, text: str) -> None:
    from crmnotes import note
    from crmnotes.model import FollowUp

    entry = note.render_followup(FollowUp(at=datetime.now().replace(second=0, microsecond=0), channel="phone",
                                          by="bench", note=text))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("\n" + entry)


def write_import_csv(path: Path, rows: int) -> None:
    """A CSV of ``rows`` new customers with Chinese headers, as a spreadsheet export would have them."""
    import gen_vault

    names = gen_vault.unique_names(SEED + 1000, rows)
    today = date.today()
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["客户名称", "行业", "联系人", "联系电话", "邮箱", "客户来源", "阶段", "等级", "标签"])
        for index, name in enumerate(names):
            meta, *_ = gen_vault.customer_spec(SEED + 1000, index, name, today)
            out.writerow([meta["name"], meta["industry"], meta["contact"], meta.get("phone", ""), meta.get("email", ""),
                          meta["source"], meta["stage"], meta.get("grade", ""), ";".join(meta["tags"])])


# ------------------------------------------------------------------ helpers (child processes)


def helper(kind: str, vault: Path, *extra: str) -> dict[str, Any]:
    result = run([PYTHON, str(Path(__file__).resolve()), "--helper", kind, str(vault), *extra])
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1][-300:]}
    data = json.loads(result.stdout.strip().splitlines()[-1])
    data.setdefault("peak_mb", result.peak_mb)
    return data


def helper_scan(vault: Path) -> dict[str, Any]:
    files = sorted((vault / "customers").rglob("*.md"))
    out: dict[str, Any] = {}
    for kind, word in WORDS.items():
        needle, times, hits = word.encode(), [], 0
        for _ in range(5):
            started = time.perf_counter()
            hits = sum(1 for p in files if needle in p.read_bytes())
            times.append(time.perf_counter() - started)
        out[kind] = {"median": statistics.median(times), "hits": hits}
    return out


def helper_search(vault: Path) -> dict[str, Any]:
    started = time.perf_counter()
    from crmnotes import search
    from crmnotes.search.session import session_of
    from crmnotes.vault import Vault

    crm_vault = Vault(vault)
    search.search(crm_vault, QUERY_MIX[0][1])
    cold = time.perf_counter() - started
    session = session_of(crm_vault)

    def mix(forget: Callable[[], None]) -> dict[str, Any]:
        times: list[float] = []
        per_query: dict[str, float] = {}
        for label, query in QUERY_MIX:
            mine = []
            for _ in range(15):
                forget()
                t0 = time.perf_counter()
                search.search(crm_vault, query)
                mine.append(time.perf_counter() - t0)
            per_query[label] = statistics.median(mine)
            times += mine
        return {"p50": percentile(times, 0.5), "p95": percentile(times, 0.95), "per_query": per_query}

    # The target is judged with every cache dropped before each query (answers and decoded
    # postings: all the work); the warm figure keeps the postings, as the TUI does while you type.
    return {"cold": cold, "mix": mix(session.forget), "warm": mix(session.results.clear)}


def helper_tui(vault: Path) -> dict[str, Any]:
    import asyncio

    started = time.perf_counter()
    from textual.widgets import DataTable

    from crmnotes.tui.app import make_app
    from crmnotes.vault import Vault

    app = make_app(Vault(vault), poll_seconds=None)
    seen = {"rows": 0, "seconds": None}

    async def drive() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            while time.perf_counter() - started < 120:
                tables = list(app.screen.query(DataTable))
                rows = max((t.row_count for t in tables), default=0)
                if rows:
                    seen["rows"], seen["seconds"] = rows, time.perf_counter() - started
                    return
                await pilot.pause(0.005)

    asyncio.run(drive())
    if seen["seconds"] is None:
        raise SystemExit("the customer table never showed a row within 120 s")
    return seen


def peak_rss_mb(pid: int) -> float | None:
    """The peak resident memory of a running process (Linux's VmHWM; None where there is none)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return None
    found = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return int(found) / 1024 if found else None


def helper_watch(vault: Path, rename: bool, samples: int) -> dict[str, Any]:
    """Write a unique word into files and time until the index (read directly, no refresh) holds it."""
    from whoosh import index as windex

    from crmnotes.search import store
    from crmnotes.search.schema import text_analyzer
    from crmnotes.vault import Vault

    crm_vault = Vault(vault)
    folder = store.index_dir(crm_vault)
    files = sorted((vault / "customers").rglob("*.md"))
    analyzer = text_analyzer()
    latencies, missed = [], 0
    for sample in range(samples):
        word = f"{TOKEN_PREFIX}{'rn' if rename else 'ip'}{sample}x{os.getpid()}"
        term = next(t.text for t in analyzer(word))
        path = files[(sample * 97) % len(files)]
        text = path.read_text(encoding="utf-8") + f"\n{word}\n"
        started = time.perf_counter()
        if rename:  # what vim and VS Code do: write a temp file beside it, then rename over
            temp = path.with_name(f".{path.name}.swp")
            temp.write_text(text, encoding="utf-8")
            os.replace(temp, path)
        else:
            path.write_text(text, encoding="utf-8")
        found = False
        while time.perf_counter() - started < 10:
            try:
                ix = windex.open_dir(str(folder))
                with ix.searcher() as searcher:
                    found = searcher.reader().doc_frequency("body", term) > 0
                ix.close()
            except Exception:  # the index is being swapped: try again
                found = False
            if found:
                break
            time.sleep(0.01)
        if found:
            latencies.append(time.perf_counter() - started)
        else:
            missed += 1
        time.sleep(0.3)  # let the watcher settle so samples do not coalesce
    if not latencies:
        return {"error": f"no write became searchable within 10 s ({missed} tries)"}
    return {"median": statistics.median(latencies), "p95": percentile(latencies, 0.95), "missed": missed,
            "runs": [round(x, 3) for x in latencies]}


def helper_main(argv: list[str]) -> int:
    kind, vault = argv[0], Path(argv[1])
    if kind == "scan":
        data = helper_scan(vault)
    elif kind == "search":
        data = helper_search(vault)
    elif kind == "tui":
        data = helper_tui(vault)
    elif kind == "watch":
        samples = int(argv[argv.index("--samples") + 1]) if "--samples" in argv else 10
        data = helper_watch(vault, "--rename" in argv, samples)
    else:
        raise SystemExit(f"unknown helper {kind}")
    print(json.dumps(data, ensure_ascii=False))
    return 0


# ------------------------------------------------------------------ report


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    rg = shutil.which("rg")
    rg_version = run([rg, "--version"]).stdout.splitlines()[0] if rg else None
    return {"nproc": os.cpu_count(), "cpu": cpu or platform.processor(), "python": platform.python_version(),
            "platform": platform.platform(), "ripgrep": rg_version, "load_average_at_start": os.getloadavg(),
            "date": datetime.now().isoformat(timespec="seconds")}


def fmt(result: dict[str, Any] | None, key: str) -> str:
    if result is None:
        return "—"
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    if "error" in result:
        message = result["error"].replace("crm: error: ", "").replace("|", "/").replace("\n", " ")
        return "error: " + message[:90]
    if key in ("search_inproc", "search_warm"):
        ratio = f", p50 = {result['p50'] / result['rg_seconds']:.2f}× rg" if result.get("rg_seconds") else ""
        return f"{result['p50'] * 1000:.1f} / {result['p95'] * 1000:.1f} ms{ratio}"
    if key.startswith("watch_") and "p95" in result:
        return f"p50 {result['median']:.2f} s, p95 {result['p95']:.2f} s"
    text = f"{result['median']:.3f} s" if result["median"] < 10 else f"{result['median']:.1f} s"
    if result.get("peak_mb"):
        text += f" ({result['peak_mb']:.0f} MB)"
    if "vs_unchanged" in result:
        text += f", {result['vs_unchanged']:.2f}× unchanged"
    if "name" in result:
        text += f", {result['name']}"
    if "vs_frontmatter" in result:
        text += f", {result['vs_frontmatter']:.2f}× frontmatter"
    return text


def table(report: dict[str, Any]) -> str:
    sizes = list(report["sizes"])
    head = "| figure | " + " | ".join(f"{int(s):,} customers" for s in sizes) + " | target (10,000) | met? |"
    lines = [head, "|---" * (len(sizes) + 3) + "|"]
    for figure in FIGURES:
        cells = [fmt(report["sizes"][s].get(figure.key), figure.key) for s in sizes]
        at_10k = report["sizes"].get("10000", {}).get(figure.key)
        verdict = ""
        if figure.target and figure.check and at_10k and "skipped" not in at_10k and "error" not in at_10k:
            met = figure.check(at_10k)
            verdict = "—" if met is None else ("met" if met else "**missed**")
        lines.append(f"| {figure.label} | " + " | ".join(cells) + f" | {figure.target} | {verdict} |")
    return "\n".join(lines)


def compare(reports: list[dict[str, Any]], size: str = "10000") -> str:
    """One size of several saved runs side by side, each with its verdict (the machine is noisy: a
    figure near its target can land on either side of it from one run to the next).  ``--scale``
    runs are judged against the 100,000-customer targets, each process figure with its ratio to
    ``rg -l 数据安全`` in the same run."""
    scale = all(report.get("scale") for report in reports)
    size = str(reports[0]["scale"]) if scale else size
    head = "| figure | " + " | ".join(f"run {r['machine']['date'][11:16]}" for r in reports) + " | target |"
    lines = [head, "|---" * (len(reports) + 2) + "|"]
    for figure in FIGURES:
        results = [report["sizes"].get(size, {}).get(figure.key) for report in reports]
        if scale and not any(results):
            continue
        target, check = SCALE_TARGETS.get(figure.key, ("", None)) if scale else (figure.target, figure.check)
        cells = []
        for report, result in zip(reports, results, strict=True):
            cell = fmt(result, figure.key)
            usable = result and "skipped" not in result and "error" not in result
            rg = (report["sizes"][size].get("rg_chinese") or {}).get("median")
            seconds = result.get("median", result.get("p50")) if usable else None
            if scale and rg and seconds and not figure.key.startswith(("rg_", "search_in", "search_warm")):
                cell += f", {seconds / rg:.1f}× rg"
            if check and usable:
                met = check(result)
                cell += "" if met is None else (" ✓" if met else " **✗**")
            cells.append(cell)
        lines.append(f"| {figure.label} | " + " | ".join(cells) + f" | {target} |")
    return "\n".join(lines)


def describe(info: dict[str, Any]) -> str:
    load = ", ".join(f"{x:.1f}" for x in info.get("load_average_at_start") or [])
    if info.get("load_average_at_end"):
        load += " (at the end " + ", ".join(f"{x:.1f}" for x in info["load_average_at_end"]) + ")"
    rg = info.get("ripgrep") or "no rg"
    return (f"Machine: {info['nproc']} cores ({info['cpu']}), Python {info['python']}, {rg}, {info['platform']}; "
            f"load average at start {load}; run {info['date']}.")


def _wait_for_git_gc(vault: Path, limit: float = 900) -> float:
    """Seconds spent waiting for the ``git gc --auto`` a sync may have started in the background
    (it packs a big repository's loose objects for minutes and would slow every later step)."""
    started = time.perf_counter()
    while (vault / ".git" / "gc.pid").exists() and time.perf_counter() - started < limit:
        time.sleep(0.5)
    waited = time.perf_counter() - started
    if waited > 1:
        log(f"  waited {waited:.0f} s for git's background gc after the sync runs")
    return waited

def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


STEPS = ("baselines", "index", "search", "listing", "check", "export", "tui", "watch", "sync", "reports",
         "import_csv")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--helper"]:
        return helper_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 customers only, fewer repeats (a smoke run)")
    parser.add_argument("--large", action="store_true", help="also measure 50,000 customers")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    parser.add_argument("--scale", type=int, default=None, metavar="N",
                        help="one vault of N customers, generated once and cached (vaults/cache/), "
                             "judged against the 100,000-customer targets")
    parser.add_argument("--repeats", type=int, default=None, help="runs per figure (default 5, quick 2)")
    parser.add_argument("--only", type=lambda s: s.split(","), default=None, metavar="STEPS",
                        help=f"measure only these steps (comma-separated: {', '.join(STEPS)}); the vault is reused")
    parser.add_argument("--table", type=Path, metavar="RESULTS_JSON", help="only print the table of a saved run")
    parser.add_argument("--compare", type=Path, nargs="+", metavar="RESULTS_JSON",
                        help="only print the 10,000 figures of saved runs side by side")
    parser.add_argument("--output", type=Path, default=None,
                        help="default: benchmarks/results.json; vaults/results-quick.json or results-only.json")
    args = parser.parse_args(argv)
    if args.compare:
        saved = [json.loads(path.read_text(encoding="utf-8")) for path in args.compare]
        print(compare(saved) + "\n\n" + "\n".join(describe(report["machine"]) for report in saved))
        return 0
    if args.table:
        saved = json.loads(args.table.read_text(encoding="utf-8"))
        print((scale_table(saved) if saved.get("scale") else table(saved)) + "\n\n" + describe(saved["machine"]))
        return 0
    if args.scale:
        return run_scale(args)
    sizes = args.sizes or ([1000] if args.quick else [1000, 10000] + ([50000] if args.large else []))
    repeats = args.repeats or (2 if args.quick else 5)
    scratch = args.quick or args.only  # a smoke run or a partial one never replaces the full run's results
    output = args.output or (VAULTS / f"results-{'only' if args.only else 'quick'}.json" if scratch else RESULTS)
    VAULTS.mkdir(exist_ok=True)
    report: dict[str, Any] = {"machine": machine(), "seed": SEED, "repeats": repeats, "sizes": {}}
    log(f"machine: {report['machine']}")
    for size in sizes:
        vault = VAULTS / f"bench-{size}"
        if not (args.only and (vault / "crmnotes.yaml").exists()):
            shutil.rmtree(vault, ignore_errors=True)
            shutil.rmtree(vault.parent / f"{vault.name}-remote.git", ignore_errors=True)
            started = time.perf_counter()
            import gen_vault

            gen_vault.generate(vault, size, SEED)
            log(f"{size:,} customers generated in {time.perf_counter() - started:.1f} s")
        # Index builds and imports take minutes at 50,000: one run of those there (each figure lists its runs).
        heavy = 1 if args.quick or size > 10000 else 3
        bench = Bench(size, vault, repeats if size < 10000 else min(repeats, 3), heavy)
        report["sizes"][str(size)] = bench.results

        def save() -> None:
            output.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

        bench.measure_all(save, args.only)
    print(table(report) + "\n\n" + describe(report["machine"]))
    return 0


def cached_vault(size: int) -> Path:
    """The generated vault of ``size`` customers, kept between runs under vaults/cache/ (keyed by the
    generator's version, the size and the seed); a half-written one (no stamp) is generated again."""
    import gen_vault

    folder = VAULTS / "cache" / f"gen{gen_vault.GENERATOR_VERSION}-n{size}-seed{SEED}"
    stamp = folder.with_name(folder.name + ".done")
    if not stamp.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        gen_vault.generate(folder, size, SEED)
        stamp.write_text(date.today().isoformat() + "\n", encoding="utf-8")
        log(f"{size:,} customers generated in {time.perf_counter() - started:.1f} s (cached in {folder})")
    return folder


def run_scale(args: argparse.Namespace) -> int:
    """One size, a working copy of the cached vault (the steps write into it: watch, sync)."""
    size = args.scale
    source = cached_vault(size)
    vault = VAULTS / f"scale-{size}"
    if not (args.only and (vault / "crmnotes.yaml").exists()):
        shutil.rmtree(vault, ignore_errors=True)
        shutil.rmtree(vault.parent / f"{vault.name}-remote.git", ignore_errors=True)
        started = time.perf_counter()
        subprocess.run(["cp", "-a", str(source), str(vault)], check=True)
        log(f"working copy made in {time.perf_counter() - started:.1f} s")
    repeats = args.repeats or 3
    output = args.output or (VAULTS / "results-only.json" if args.only else HERE / "results" / f"scale-{size}.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": machine(), "seed": SEED, "repeats": repeats, "scale": size, "sizes": {}}
    log(f"machine: {report['machine']}")
    bench = Bench(size, vault, repeats, 1)
    report["sizes"][str(size)] = bench.results

    def save() -> None:
        report["machine"]["load_average_at_end"] = os.getloadavg()
        output.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    bench.measure_all(save, args.only)
    print(scale_table(report) + "\n\n" + describe(report["machine"]))
    return 0


def scale_table(report: dict[str, Any]) -> str:
    """A ``--scale`` run against the 100,000-customer targets, with each process figure's ratio to rg."""
    size = str(report["scale"])
    results = report["sizes"][size]
    rg = (results.get("rg_chinese") or {}).get("median")
    lines = [f"| figure | {int(size):,} customers | × rg | target (100,000) | met? |", "|---|---|---|---|---|"]
    for figure in FIGURES:
        result = results.get(figure.key)
        if result is None:
            continue
        target, check = SCALE_TARGETS.get(figure.key, ("", None))
        usable = "skipped" not in result and "error" not in result
        seconds = result.get("median", result.get("p50")) if usable else None
        ratio = f"{seconds / rg:.1f}×" if rg and seconds else ""
        met = check(result) if check and usable else None
        verdict = "" if met is None else ("met" if met else "**missed**")
        lines.append(f"| {figure.label} | {fmt(result, figure.key)} | {ratio} | {target} | {verdict} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
