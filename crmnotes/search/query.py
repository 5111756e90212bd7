"""The query language of SPEC.md "Search": parse to a small tree, then compile to Whoosh.

    数据安全 "data security" stage:intent tag:needs/ owner:alice
    (industry:互联网 OR source:展会) NOT grade:C  -lost
    created:2024-01..2024-03  last:<30d  last:>90d  next:<7d

Bare words match name, contact, notes and follow-ups, and (ranked lower) tags and
the labels of the customer's choices (互联网, 展会); words sit side by side
as AND.  A Chinese word of two characters is one bigram term; a longer one
is the AND of its bigrams (no position check: every file holding the
substring matches, so nothing ``grep`` finds is missed) and the hits actually returned are verified to hold the exact
substring (``Check``, evaluated by ``engine``), so bigrams that only occur
apart never show;
a Latin word is stemmed, and also matches the pinyin or initials of Chinese
names and contacts (``xckj``), a phone number by any 4+ digit run, and an ID
by its prefix.  Field values go through the vault's choice lists, so
``stage:意向`` and ``source:展会`` find ``intent`` and ``trade-show``.

A malformed query raises ``QueryError`` (a ``CrmError``) saying what is
wrong, never a traceback.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import product
from typing import Any

from ..config import VaultConfig, fold
from ..errors import CrmError
from ..model import DATE_RANGE_TEXT, MAX_DAYS, MAX_YEAR, MIN_YEAR
from . import text as textmod

TEXT_FIELDS = ("name", "contact", "body", "labels")  # labels: tags and choice labels (records.labels_text)
FIELD_NAMES: dict[str, str] = {
    "stage": "stage", "阶段": "stage", "tag": "tag", "tags": "tag", "标签": "tag", "owner": "owner", "负责人": "owner",
    "industry": "industry", "行业": "industry", "source": "source", "来源": "source", "grade": "grade", "等级": "grade",
    "id": "id", "name": "name", "名称": "name", "客户": "name", "contact": "contact", "联系人": "contact",
    "phone": "phone", "电话": "phone", "channel": "channel", "渠道": "channel", "created": "created",
    "创建": "created", "last": "last", "最近联系": "last", "next": "next", "下次跟进": "next",
}
DATE_FIELDS = {"created", "last", "next"}
DATE_HELP = "Use e.g. created:2024-01..2024-03, created:>2024-01-15, last:<30d (within 30 days) or last:>90d."
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "「": '"', "」": '"', "『": '"', "』": '"'})
_LEX = re.compile(r'\s+|(?P<open>\()|(?P<close>\))|"(?P<phrase>[^"]*)(?P<endq>"?)|(?P<word>[^\s()"]+)')
_FIELD = re.compile(rf'^(?P<name>[A-Za-z_{textmod.CJK_CLASS}]+):(?P<value>.*)$')
_ID_LIKE = re.compile(r"^c-[0-9a-z-]{3,}$")
_PHONE_LIKE = re.compile(r"^\+?[\d\s()\-.]+$")
_RELATIVE = re.compile(r"^(?P<op>[<>])(?P<n>\d+)(?P<unit>[dwmy])$")
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}
_SPACES = re.compile(r"\s+")  # (a look-behind CJK class would cost 15 ms to compile on every start)
MAX_SPACE_CHOICES = 3  # optional spaces in one phrase tried in every combination (2**3 phrases)


class QueryError(CrmError):
    """A search query that cannot be understood."""


# ------------------------------------------------------------------ tree


@dataclass
class Word:
    text: str
    phrase: bool = False


@dataclass
class FieldTerm:
    name: str  # canonical field name
    value: str
    raw_name: str = ""


@dataclass
class Not:
    child: Node


@dataclass
class And:
    children: list[Node] = field(default_factory=list)


@dataclass
class Or:
    children: list[Node] = field(default_factory=list)


Node = Word | FieldTerm | Not | And | Or


# ------------------------------------------------------------------ parsing


def _lex(query: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pending_field = ""
    for match in _LEX.finditer(query):
        kind = match.lastgroup
        if kind is None:
            continue
        if kind in ("phrase", "endq"):
            if not match.group("endq"):
                raise QueryError("a quotation mark in the search query is not closed.", 'Close the "phrase" with ".')
            if pending_field:
                tokens[-1] = ("field", pending_field + match.group("phrase"))
                pending_field = ""
            else:
                tokens.append(("phrase", match.group("phrase")))
            continue
        pending_field = ""
        value = match.group(kind)
        if kind == "word" and value in ("AND", "OR", "NOT", "&&", "||"):
            tokens.append(("op", {"&&": "AND", "||": "OR"}.get(value, value)))
        elif kind == "word" and _FIELD.match(value):
            tokens.append(("field", value))
            if value.endswith(":"):
                pending_field = value  # field:"quoted value" comes as two lexemes
        else:
            tokens.append((kind, value))
    return tokens


MAX_DEPTH = 50  # nested parentheses and NOTs: far beyond any real query, far below Python's recursion limit


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"the search query nests parentheses or NOTs more than {MAX_DEPTH} deep.",
                             "Write a flatter query.")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Node:
        node = self.or_expr()
        if (token := self.peek()) is not None:
            kind, value = token
            raise QueryError(f"unexpected '{value}' in the search query.",
                             "Check the parentheses." if kind == "close" else "")
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.peek() == ("op", "OR"):
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(children)

    def and_expr(self) -> Node:
        children = [self.unary()]
        while (token := self.peek()) is not None and token not in (("op", "OR"), ("close", ")")):
            if token == ("op", "AND"):
                self.take()
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(children)

    def unary(self) -> Node:
        token = self.peek()
        if token is None:
            raise QueryError("the search query ends where a word was expected.",
                             "Remove the trailing AND / OR / NOT or finish the expression.")
        kind, value = self.take()
        if kind == "op" and value == "NOT":
            self.deeper()
            node: Node = Not(self.unary())
            self.depth -= 1
            return node
        if kind == "op":
            raise QueryError(f"'{value}' needs a word before and after it.", "Write e.g. 北京 OR 上海.")
        if kind == "open":
            self.deeper()
            node = self.or_expr()
            if self.peek() != ("close", ")"):
                raise QueryError("a parenthesis in the search query is not closed.", "Add the missing ')'.")
            self.take()
            self.depth -= 1
            return node
        if kind == "close":
            raise QueryError("the search query has a ')' without a matching '('.", "Remove it or add the '('.")
        if kind == "phrase":
            return _phrase_node(value)
        if kind == "word" and value.startswith("-") and len(value) > 1:
            return Not(self._atom("word", value[1:]))
        return self._atom(kind, value)

    def _atom(self, kind: str, value: str) -> Node:
        if kind == "field" or _FIELD.match(value):
            match = _FIELD.match(value)
            assert match is not None
            raw = match.group("name")
            name = FIELD_NAMES.get(raw.lower())
            if name is None:
                known = ", ".join(sorted({v for v in FIELD_NAMES.values()}))
                raise QueryError(f"the search query uses an unknown field '{raw}:'.", f"Known fields: {known}.")
            if not match.group("value").strip():
                raise QueryError(f"'{raw}:' needs a value.", f"Write e.g. {raw}:something.")
            return FieldTerm(name, match.group("value").strip(), raw)
        return Word(value)


def _phrase_node(text: str) -> Node:
    """A quoted phrase.  Chinese is written without spaces, so a space between
    two CJK characters is optional: "数据 安全" is the phrase as typed OR
    数据安全, and with several such spaces every choice of them (up to
    ``MAX_SPACE_CHOICES``; beyond, as typed or none)."""
    gaps = [gap for gap in _SPACES.finditer(text) if gap.start() > 0 and gap.end() < len(text)
            and textmod.has_cjk(text[gap.start() - 1]) and textmod.has_cjk(text[gap.end()])]
    if not gaps:
        return Word(text, phrase=True)
    if len(gaps) > MAX_SPACE_CHOICES:
        choices = [(True,) * len(gaps), (False,) * len(gaps)]
    else:
        choices = [tuple(not bit for bit in keep) for keep in product((False, True), repeat=len(gaps))]
    variants = []
    for keep in choices:
        out, at = [], 0
        for gap, spaced in zip(gaps, keep, strict=True):
            out += [text[at : gap.start()], " " if spaced else ""]
            at = gap.end()
        variants.append("".join(out) + text[at:])
    return Or([Word(v, phrase=True) for v in variants])


def parse(query: str) -> Node:
    """Parse a query; raises ``QueryError`` when it is malformed or empty."""
    cleaned = unicodedata.normalize("NFKC", query).translate(_QUOTES).strip()
    tokens = _lex(cleaned)
    if not tokens:
        raise QueryError("the search query is empty.", "Type a word, a \"phrase\" or field:value.")
    return _Parser(tokens).parse()


# ------------------------------------------------------------------ compiling


@dataclass
class Substring:
    """A Chinese run the index matched loosely (an AND of its bigrams): exact
    when ``text`` is in the file (``fields`` = the text fields) or in the
    named front-matter field.  ``required``: on a pure-AND path from the
    root, so a hit of the whole query already matched ``query``."""

    text: str
    fields: tuple[str, ...]
    query: Any
    required: bool


@dataclass
class Exact:
    """Part of the query the index answers exactly: ``implied`` (on a pure-AND
    path from the root, so every hit matched it) or asked per hit; ``negate``:
    the hit must *not* match ``query``."""

    query: Any
    implied: bool = False
    negate: bool = False


@dataclass
class AllOf:
    children: list[Check]


@dataclass
class AnyOf:
    children: list[Check]


Check = Substring | Exact | AllOf | AnyOf  # negations are compiled exactly: they are ``Exact``


@dataclass
class Compiled:
    query: Any  # a whoosh.query.Query
    needles: list[str]  # lowercase strings to highlight in snippets
    check: Check | None = None  # None: every hit of ``query`` is a match; else verify hits with it


def compile_query(node: Node, config: VaultConfig, today: date) -> Compiled:
    compiler = _Compiler(config, today)
    query, check = compiler.compile_checked(node)
    return Compiled(query, sorted(set(compiler.needles), key=len, reverse=True),
                    check if compiler.loose else None)


class _Compiler:
    def __init__(self, config: VaultConfig, today: date) -> None:
        from whoosh import query as wq

        from .schema import text_analyzer

        self.q = wq
        self.analyzer = text_analyzer()
        self.config = config
        self.today = today
        self.needles: list[str] = []
        self.negated = 0
        self.optional = 0  # inside an OR: a loose part there is not implied by a hit
        self.loose: list[Substring] = []  # loose parts of the node being compiled

    def compile_checked(self, node: Node) -> tuple[Any, Check]:
        """The Whoosh query of ``node`` and how to verify its hits (see ``Check``)."""
        if isinstance(node, (And, Or)):
            if isinstance(node, Or):  # a NOT there is one more branch, compiled (and checked) exactly
                self.optional += 1
                pairs = [self.compile_checked(c) for c in node.children]
                self.optional -= 1
                return self.q.Or([p[0] for p in pairs]), AnyOf([p[1] for p in pairs])
            positive = [self.compile_checked(c) for c in node.children if not isinstance(c, Not)]
            negative = [self._negated(c.child) for c in node.children if isinstance(c, Not)]
            checks: list[Check] = [p[1] for p in positive]
            base = (self.q.And([p[0] for p in positive]) if len(positive) > 1 else positive[0][0]
                    if positive else self.q.Every())
            if negative:
                excluded = self.q.Or(negative)
                checks.append(Exact(excluded, implied=not self.optional, negate=True))
                return self.q.AndNot(base, excluded), AllOf(checks)
            return base, AllOf(checks)
        before = len(self.loose)
        query = self.compile(node)
        parts = self.loose[before:]
        if not parts:
            return query, Exact(query, implied=not self.optional)
        # a leaf (word, field): its loose parts are all needed for it; inside an OR, whether
        # the leaf itself matched must be asked too (the hit may have come from another branch)
        if all(p.required for p in parts) or (isinstance(node, (Word, FieldTerm)) and self._only_loose(node)):
            # a word that is one Chinese run holds exactly when its text is there: no index question
            return query, AllOf(list(parts))
        return query, AllOf([Exact(query, implied=not self.optional), *parts])

    @staticmethod
    def _only_loose(node: Word | FieldTerm) -> bool:
        text = node.text if isinstance(node, Word) else node.value
        if isinstance(node, FieldTerm) and node.name not in ("name", "contact"):
            return False
        return _one_cjk_run(text) and len(textmod.normalize(text).strip()) > 2

    def _negated(self, node: Node) -> Any:
        self.negated += 1
        try:
            return self.compile(node)
        finally:
            self.negated -= 1

    def compile(self, node: Node) -> Any:
        q = self.q
        if isinstance(node, Word):
            return self.phrase(node.text) if node.phrase else self.word(node.text)
        if isinstance(node, FieldTerm):
            return self.field(node)
        if isinstance(node, Not):
            self.negated += 1
            inner = self.compile(node.child)
            self.negated -= 1
            return q.AndNot(q.Every(), inner)
        if isinstance(node, Or):
            return q.Or([self.compile(c) for c in node.children])
        positive, negative = [], []
        for child in node.children:
            if isinstance(child, Not):
                self.negated += 1
                negative.append(self.compile(child.child))
                self.negated -= 1
            else:
                positive.append(self.compile(child))
        base = q.And(positive) if len(positive) > 1 else positive[0] if positive else q.Every()
        return q.AndNot(base, q.Or(negative)) if negative else base

    def _needle(self, text: str) -> None:
        if not self.negated and text:
            self.needles.append(text)

    # ---------------------------------------------------------------- words

    def word(self, raw: str, fields: tuple[str, ...] = TEXT_FIELDS, pinyin: bool = True) -> Any:
        q = self.q
        text = textmod.normalize(raw)
        parts = [self._part(is_cjk, run, fields, pinyin) for is_cjk, run, _, _ in textmod.runs(text)]
        if not parts:
            raise QueryError(f"'{raw}' has no letters or digits to search for.", "Search for a word.")
        combined = parts[0] if len(parts) == 1 else q.And(parts)
        extra = []
        if fields == TEXT_FIELDS and _ID_LIKE.match(text):
            extra.append(q.Prefix("id", text))
        digits = textmod.digits_of(text)
        if _PHONE_LIKE.match(text) and len(digits) >= textmod.MIN_PHONE_RUN:
            extra.append(q.Prefix("phone", digits))  # a prefix of a suffix: any digit run
        return q.Or([combined, *extra]) if extra else combined

    def _part(self, is_cjk: bool, run: str, fields: tuple[str, ...], pinyin: bool) -> Any:
        q = self.q
        self._needle(run)
        if is_cjk:
            if len(run) == 1:
                return q.Or([q.Prefix(f, run) for f in fields])
            grams = textmod.bigrams(run)
            if len(grams) == 1:
                options = [q.Term(f, grams[0]) for f in fields]  # a 2-character word is one bigram
            elif self.negated:
                options = [q.Phrase(f, grams) for f in fields]  # excluding must be exact: no loose AND here
            else:
                options = [q.And([q.Term(f, g) for g in grams]) for f in fields]
                loose = q.Or(options)
                self.loose.append(Substring(run, fields, loose, required=not self.optional))
            return q.Or(options)
        tokens = [t.text for t in self.analyzer(run, mode="query")]
        stem = tokens[0] if tokens else run
        if stem != run:
            self._needle(stem)
        options = [q.Term(f, stem) for f in fields]
        if pinyin and run.isascii() and run.isalpha() and len(run) >= 2:
            options.append(q.Prefix("pinyin", run, boost=0.8))
        return q.Or(options)

    def phrase(self, raw: str, fields: tuple[str, ...] = TEXT_FIELDS) -> Any:
        q = self.q
        tokens = [t.text for t in self.analyzer(textmod.normalize(raw), mode="query")]
        if not tokens:
            raise QueryError(f'the phrase "{raw}" has no words to search for.', "Put words between the quotes.")
        self._needle(textmod.normalize(raw).strip())
        if len(tokens) == 1 or _one_cjk_run(raw):
            return self.word(raw, fields)  # "数据安全" is the word 数据安全: a substring either way
        return q.Or([q.Phrase(f, tokens) for f in fields])

    # ---------------------------------------------------------------- fields

    def field(self, term: FieldTerm) -> Any:
        q = self.q
        name, value = term.name, term.value
        if name in DATE_FIELDS:
            start, end = self.date_range(term)
            return q.DateRange(name, start, end, endexcl=True)
        if name in ("name", "contact"):
            return self.word(value, (name,)) if " " not in value else self.phrase(value, (name,))
        if name == "stage":
            return self.stage(value)
        if name == "tag":
            tag = value.lower()
            if tag.endswith(("/", "*")):
                return q.Prefix("tags", tag.rstrip("*"))
            return q.Or([q.Term("tags", tag), q.Prefix("tags", tag + "/")])
        if name == "id":
            return q.Prefix("id", value.lower())
        if name == "owner":
            return q.Term("owner", fold(value))
        if name == "phone":
            digits = textmod.digits_of(value)
            if len(digits) < textmod.MIN_PHONE_RUN:
                raise QueryError(f"phone:{value} needs at least {textmod.MIN_PHONE_RUN} digits.",
                                 "Write e.g. phone:8000.")
            return q.Prefix("phone", digits)
        lists = {"industry": "industries", "source": "sources", "grade": "grades", "channel": "channels"}
        return q.Term(name, self.canonical(lists[name], value).lower())

    def canonical(self, list_name: str, value: str) -> str:
        choices = self.config.choices.get(list_name)
        return choices.canonical(value) if choices else value

    def stage(self, value: str) -> Any:
        """Stored stage, with *silent* computed like ``due.effective_stage``:
        no contact (else creation) for ``silent_after_days`` unless closed."""
        q = self.q
        stages = self.config.stages
        stage = stages.canonical(value)
        silent = self.config.silent_stage
        closed = [c.id.lower() for c in stages.items if c.closed]
        if silent is None:
            return q.Term("stage", stage.lower())
        cutoff = datetime.combine(self.today - timedelta(days=self.config.silent_after_days - 1), time())
        quiet = q.DateRange("activity", None, cutoff, endexcl=True)
        if stage == silent:
            return q.AndNot(quiet, q.Or([q.Term("stage", c) for c in closed])) if closed else quiet
        if stage.lower() in closed:
            return q.Term("stage", stage.lower())
        return q.AndNot(q.Term("stage", stage.lower()), quiet)

    def date_range(self, term: FieldTerm) -> tuple[datetime | None, datetime | None]:
        value = term.value.replace(" ", "")
        where = f"{term.raw_name or term.name}:{term.value}"
        relative = _RELATIVE.match(value)
        if relative:
            days = int(relative.group("n")[:12]) * _UNIT_DAYS[relative.group("unit")]
            if days > MAX_DAYS:
                raise QueryError(f"'{where}' reaches more than {MAX_DAYS:,} days (100 years) away.", DATE_HELP)
            today = datetime.combine(self.today, time())
            if term.name == "next":  # the future: next:<7d is due within a week (overdue included)
                edge = today + timedelta(days=days + 1)
                return (None, edge) if relative.group("op") == "<" else (edge, None)
            edge = today - timedelta(days=days)
            return (edge, None) if relative.group("op") == "<" else (None, edge)
        if ".." in value:
            left, _, right = value.partition("..")
            start = _period(left, where)[0] if left else None
            end = _period(right, where)[1] if right else None
            if start is None and end is None:
                raise QueryError(f"'{where}' has no dates on either side of '..'.", DATE_HELP)
            return start, end
        for op in (">=", "<=", ">", "<"):
            if value.startswith(op):
                first, after = _period(value[len(op) :], where)
                return {">=": (first, None), ">": (after, None), "<=": (None, after), "<": (None, first)}[op]
        return _period(value, where)


def _one_cjk_run(raw: str) -> bool:
    found = list(textmod.runs(textmod.normalize(raw)))
    return len(found) == 1 and found[0][0]


def _period(text: str, where: str) -> tuple[datetime, datetime]:
    """2024 / 2024-03 / 2024-03-05 -> [first moment, first moment after)."""
    parts = text.replace("/", "-").split("-")
    if parts[0].isdigit() and len(parts[0]) == 4 and not MIN_YEAR <= int(parts[0]) <= MAX_YEAR:
        raise QueryError(f"'{where}' is outside the dates crmnotes accepts ({DATE_RANGE_TEXT}).", DATE_HELP)
    try:
        if len(parts) == 1 and len(parts[0]) == 4:
            year = int(parts[0])
            return datetime(year, 1, 1), datetime(year + 1, 1, 1)
        if len(parts) == 2:
            year, month = int(parts[0]), int(parts[1])
            start = datetime(year, month, 1)
            return start, datetime(year + month // 12, month % 12 + 1, 1)
        if len(parts) == 3:
            day = datetime(int(parts[0]), int(parts[1]), int(parts[2]))
            return day, day + timedelta(days=1)
    except ValueError:
        pass
    raise QueryError(f"'{where}' is not a date or date range.", DATE_HELP)
