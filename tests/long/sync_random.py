"""Randomized team sync: three clones apply random operations (add customer,
log, set field, tag, deal) and sync in random orders; afterwards every clone
holds the same content and every follow-up ever logged is present exactly once.

Seeded and reproducible.  ``tests/test_sync_random.py`` runs a short version;
run the long one as a script::

    .venv/bin/python tests/long/sync_random.py --seed 7 --rounds 300
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `tests` and `crmnotes` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.conftest import Crm

TAGS = ["needs/data-security", "needs/training", "budget/10k-50k", "role/decision-maker", "status/vip", "region/华东"]
STAGES = ["potential", "intent", "won"]
CHANNELS = ["phone", "wechat", "email", "visit"]
PEOPLE = ["alice", "bob", "carol"]


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {done.stderr}")
    return done.stdout


class Simulation:
    """A bare remote, one clone per person, and a record of every logged note."""

    def __init__(self, workdir: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.counter = 0
        self.logged: list[str] = []
        remote = workdir / "remote.git"
        git(workdir, "init", "-q", "--bare", "--initial-branch=main", str(remote))
        first = workdir / PEOPLE[0]
        Crm(workdir)("init", str(first))
        git(first, "remote", "add", "origin", str(remote))
        self.clones = {PEOPLE[0]: Crm(first)}
        self._identity(first, PEOPLE[0])
        self.add(self.clones[PEOPLE[0]])
        self.clones[PEOPLE[0]]("sync")
        for person in PEOPLE[1:]:
            target = workdir / person
            git(workdir, "clone", "-q", "-b", "main", str(remote), str(target))
            self._identity(target, person)
            self.clones[person] = Crm(target)

    @staticmethod
    def _identity(root: Path, name: str) -> None:
        git(root, "config", "user.name", name)
        git(root, "config", "user.email", f"{name}@example.com")

    def token(self) -> str:
        self.counter += 1
        return f"s{self.seed}-{self.counter:05d}"

    # ------------------------------------------------------------ operations

    def add(self, crm: Crm) -> None:
        token = self.token()
        phone = "139" + "".join(self.rng.choice("0123456789") for _ in range(8))
        crm("add", f"客户{token}", "--industry", self.rng.choice(["互联网", "制造业", "retail"]), "--contact",
            "王经理", "--phone", phone, "--force")

    def pick(self, crm: Crm) -> str:
        customers = crm("ls", "--json").json()
        return str(self.rng.choice(customers)["id"])

    def log(self, crm: Crm, person: str) -> None:
        note = f"跟进记录 {self.token()}"
        at = f"2030-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d} {self.rng.randint(8, 19):02d}:" \
             f"{self.rng.choice(['00', '15', '30', '45'])}"
        crm("log", self.pick(crm), "--note", note, "--at", at, "--by", person, "--channel", self.rng.choice(CHANNELS))
        self.logged.append(note)

    def set_field(self, crm: Crm) -> None:
        field, value = self.rng.choice([("grade", self.rng.choice("ABC")), ("stage", self.rng.choice(STAGES)),
                                        ("owner", self.rng.choice(PEOPLE))])
        crm("set", self.pick(crm), f"{field}={value}")

    def tag(self, crm: Crm) -> None:
        ref = self.pick(crm)
        tags = crm("show", ref, "--json").json()["tags"]
        new = self.rng.choice(TAGS)
        if new in tags and self.rng.random() < 0.5:
            tags.remove(new)
        elif new not in tags:
            tags.append(new)
        crm("set", ref, "tags=" + ",".join(tags))

    def deal(self, crm: Crm) -> None:
        crm("deal", "add", self.pick(crm), f"项目{self.token()}", "--stage", "initial-contact",
            "--amount", str(self.rng.randint(1, 50) * 10000))

    def step(self) -> None:
        person = self.rng.choice(PEOPLE)
        crm = self.clones[person]
        for _ in range(self.rng.randint(1, 3)):
            kind = self.rng.choices(["add", "log", "set", "tag", "deal"], weights=[1, 5, 2, 2, 1])[0]
            if kind == "log":
                self.log(crm, person)
            elif kind == "add":
                self.add(crm)
            elif kind == "set":
                self.set_field(crm)
            elif kind == "tag":
                self.tag(crm)
            else:
                self.deal(crm)
        if self.rng.random() < 0.6:
            crm("sync")

    # ------------------------------------------------------------ checks

    def converge(self) -> None:
        for person in PEOPLE * 2:
            self.clones[person]("sync")

    def verify(self) -> None:
        heads = {p: git(c.root, "rev-parse", "HEAD").strip() for p, c in self.clones.items()}
        assert len(set(heads.values())) == 1, f"clones disagree on HEAD: {heads}"
        contents = {p: snapshot(c.root) for p, c in self.clones.items()}
        first = contents[PEOPLE[0]]
        for person, content in contents.items():
            assert content == first, f"{person} differs from {PEOPLE[0]}"
            assert git(self.clones[person].root, "status", "--porcelain") == "", f"{person} has uncommitted files"
        text = "\n".join(v.decode("utf-8") for k, v in first.items() if k.startswith("customers/"))
        assert "<<<<<<<" not in text and ">>>>>>>" not in text
        for note in self.logged:
            assert text.count(note + "\n") == 1, f"follow-up '{note}' appears {text.count(note)} times"
        crm = self.clones[PEOPLE[0]]
        ids = [c["id"] for c in crm("ls", "--json").json()]
        notes = [f["note"] for ref in ids for f in crm("show", ref, "--json").json()["followups"]]
        assert sorted(n for n in notes if n.startswith("跟进记录")) == sorted(self.logged)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts and ".crmnotes" not in p.parts}


def run(workdir: Path, seed: int, rounds: int) -> Simulation:
    simulation = Simulation(workdir, seed)
    for _ in range(rounds):
        simulation.step()
    simulation.converge()
    simulation.verify()
    return simulation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp, "home")
        home.mkdir()
        os.environ.update({"HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
                           "GIT_CONFIG_NOSYSTEM": "1", "CRMNOTES_USER": "tester"})
        os.environ.pop("CRMNOTES_VAULT", None)
        simulation = run(Path(tmp), args.seed, args.rounds)
        print(f"seed {args.seed}: {args.rounds} rounds, {len(simulation.logged)} follow-ups, all clones agree")


if __name__ == "__main__":
    main()
