"""Deterministic synthetic vaults for the benchmark suite.

``python benchmarks/gen_vault.py OUT --customers N --seed S`` creates a vault
(the real template) with N customers written in the real file format: half
Chinese, half English, 5–15 follow-ups each, 2–4 KB per file, and realistic
spreads of stage, grade, owner (a team of 50), source, industry, tags and
deals.  The same seed and ``--today`` give the same bytes: every customer
draws from its own ``random.Random(f"{seed}:{index}")``, so the output does
not depend on how the work is split over processes.

Speed matters (10,000 files in a few seconds): files are rendered by
``crmnotes.note.new_file_text`` (whose front-matter fast path skips PyYAML's
pure-Python dumper for plain values), and the work is spread over all cores.
``--exact`` renders through ``note.yaml_file_text`` (the dumper itself);
tests/test_benchmarks.py proves both paths give identical files.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from a checkout

from crmnotes import actions, note
from crmnotes.model import FollowUp
from crmnotes.naming import customer_relpath, slugify
from crmnotes.vault import CUSTOMERS_DIR

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
CHUNK = 250
# Bump when the files generated for a (customers, seed) change: cached scale vaults are keyed by it.
GENERATOR_VERSION = 1
MIN_BYTES, MAX_BYTES = 2048, 4096

# Words the benchmark queries look for; their frequency is set by the pools below.
QUERY_WORDS = {"english": "integration", "chinese": "数据安全", "phrase": "annual contract", "pinyin": "xingchen"}

ZH_CITIES = ["北京", "上海", "广州", "深圳", "杭州", "南京", "苏州", "成都", "重庆", "武汉", "西安", "天津", "长沙",
             "郑州", "青岛", "厦门", "宁波", "合肥", "济南", "福州", "昆明", "大连", "沈阳", "无锡", "东莞", "佛山",
             "珠海", "贵阳", "南宁", "哈尔滨", "石家庄", "太原", "南昌", "兰州", "海口", "温州", "常州", "烟台",
             "泉州", "绍兴"]
ZH_BRAND_A = ["星", "云", "华", "天", "海", "金", "蓝", "新", "中", "恒", "瑞", "博", "创", "智", "鼎", "远", "明",
              "嘉", "泰", "安", "润", "宏", "卓", "东", "正", "和", "盛", "万", "联", "信", "优", "领", "启", "青",
              "鹏", "航", "银", "峰", "辰", "汇"]
ZH_BRAND_B = ["辰", "帆", "泰", "邦", "源", "达", "诚", "科", "通", "创", "途", "拓", "迈", "晟", "悦", "豪", "祥",
              "康", "策", "驰", "凯", "迅", "维", "丰", "盈", "力", "致", "欣", "桥", "川", "峰", "石", "光", "杰",
              "宇", "鑫", "腾", "锐", "翔", "衡"]
ZH_KIND = {"internet": ["科技", "网络", "信息技术", "软件"], "manufacturing": ["精密制造", "机械", "电子", "材料"],
           "finance": ["金融服务", "资本", "保险代理", "融资租赁"], "education": ["教育科技", "培训", "文化传播"],
           "healthcare": ["医疗器械", "健康", "生物科技", "医药"], "retail": ["商贸", "电子商务", "连锁", "零售"],
           "logistics": ["物流", "供应链", "速运", "仓储"], "energy": ["新能源", "能源", "光伏", "电力"],
           "government": ["政务服务中心", "数据局", "信息中心"], "real-estate": ["置业", "地产", "物业"],
           "consulting": ["咨询", "管理顾问", "企业服务"], "other": ["实业", "发展"]}
ZH_SUFFIX = ["有限公司", "有限公司", "有限公司", "股份有限公司", "集团", ""]
ZH_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
ZH_TITLES = ["经理", "总", "主任", "老师", "工", "总监", "先生", "女士", "主管", "处长"]
EN_BRAND_A = ["North", "Blue", "Silver", "Bright", "Iron", "Summit", "Harbor", "Pioneer", "Evergreen", "Crest",
              "Atlas", "Nova", "Vertex", "Cedar", "Falcon", "Granite", "Horizon", "Lumen", "Maple", "Orbit",
              "Quantum", "Red", "Stone", "True", "Union", "West", "Zenith", "Apex", "Beacon", "Coral", "Delta",
              "Echo", "Fjord", "Golden", "Hudson", "Ivy", "Juniper", "Kestrel", "Lake", "Meridian"]
EN_BRAND_B = ["wind", "field", "point", "bridge", "stone", "wave", "line", "gate", "path", "light", "peak", "works",
              "forge", "ridge", "port", "view", "mark", "star", "rock", "brook", "craft", "logic", "scale", "shift"]
EN_KIND = {"internet": ["Software", "Analytics", "Cloud", "Digital"], "manufacturing": ["Manufacturing", "Industries",
           "Components", "Machining"], "finance": ["Capital", "Financial", "Insurance"], "education": ["Learning",
           "Academy", "Education"], "healthcare": ["Health", "Medical", "Biotech"], "retail": ["Retail", "Stores",
           "Commerce"], "logistics": ["Logistics", "Freight", "Shipping"], "energy": ["Energy", "Solar", "Power"],
           "government": ["Public Services"], "real-estate": ["Properties", "Realty"], "consulting": ["Consulting",
           "Advisors", "Partners"], "other": ["Group", "Holdings"]}
EN_SUFFIX = ["Ltd.", "Inc.", "Co., Ltd.", "LLC", "GmbH", "Pte. Ltd.", ""]
EN_FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Emma", "Daniel",
            "Sophie", "Thomas", "Olivia", "Lucas", "Mia", "Noah", "Chloe", "Ethan", "Hannah", "Liam", "Grace"]
EN_LAST = ["Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Lewis", "Walker", "Hall",
           "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Carter", "Mueller", "Tanaka"]
EN_REGIONS = ["north-america", "europe", "apac", "singapore", "japan", "germany", "uk", "australia"]
ZH_REGIONS = ["华北", "华东", "华南", "华中", "西南", "西北", "东北"]
ZH_EVENTS = ["2025安博会", "2025高交会", "2026工博会", "2025进博会", "线上发布会"]
EN_EVENTS = ["saastr-2025", "hannover-messe-2025", "web-summit-2025", "ces-2026"]

# A team of 50: 30 Chinese, 20 English names; a few people carry most accounts.
TEAM = ["张伟", "李娜", "王芳", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周杰", "吴倩", "徐涛", "孙丽", "马超", "朱琳",
        "胡军", "郭佳", "何鹏", "高翔", "林雪", "罗斌", "郑爽", "梁宇", "谢婷", "宋健", "唐悦", "许峰", "韩梅", "冯刚",
        "邓超", "曹颖", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
        "nina", "oscar", "peggy", "quinn", "rupert", "sybil", "trent", "victor", "wendy"]
TEAM_WEIGHTS = [1.0 / (rank + 3) for rank in range(len(TEAM))]

STAGES = (["potential", "intent", "won", "lost"], [45, 22, 22, 11])
GRADES = (["A", "B", "C"], [15, 45, 40])
SOURCES = (["trade-show", "referral", "online-search", "ad", "website", "cold-call", "social", "partner", "other"],
           [14, 20, 18, 8, 14, 10, 8, 6, 2])
INDUSTRIES = (list(ZH_KIND), [20, 16, 10, 8, 8, 10, 7, 6, 3, 4, 5, 3])
CHANNELS_ZH = (["phone", "wechat", "email", "visit", "meeting"], [35, 35, 8, 12, 10])
CHANNELS_EN = (["phone", "wechat", "email", "visit", "meeting"], [25, 5, 40, 10, 20])
NEEDS = ["data-security", "cost-down", "integration", "automation", "training", "compliance"]
BUDGETS = (["under-10k", "10k-50k", "50k-plus"], [35, 40, 25])
ROLES = ["decision-maker", "influencer", "user", "purchaser"]
DEAL_STAGES = {"initial-contact": 10, "needs-confirmed": 30, "proposal": 50, "negotiation": 75, "won": 100, "lost": 0}
ZH_PRODUCTS = ["数据安全平台", "智能客服系统", "供应链协同平台", "财务共享中心", "员工培训平台", "日志审计系统",
               "私有云", "数据中台", "营销自动化", "合规管理系统"]
EN_PRODUCTS = ["Data Security Suite", "Analytics Platform", "Integration Hub", "Support Desk", "Compliance Pack",
               "Training Portal", "Automation Toolkit", "Private Cloud"]

ZH_SENTENCES = [
    "客户关注数据安全，要求提供等保合规方案。", "电话沟通需求，对方希望下周看到报价。",
    "对方技术负责人参加了演示，反馈不错。",
    "客户表示预算需要走季度审批流程。", "微信发送了产品白皮书和成功案例。", "上门拜访，见到了采购部门负责人。",
    "客户正在比较三家供应商，价格是主要顾虑。", "讨论了与现有系统的集成方式，需要提供接口文档。",
    "客户希望先做一个月的试用。", "对方领导出差，会议改到下周。", "确认了实施周期和培训安排。",
    "客户对售后服务响应时间提出要求。", "发送了年度合同草稿，等待法务审核。", "客户提到竞争对手报价更低。",
    "对方 IT 部门关心私有化部署和数据安全。", "沟通了续费事宜，客户满意度较高。", "客户反馈上次的故障已经解决。",
    "约了技术交流会，准备现场演示。", "对方需要降本增效，关注自动化能力。", "客户询问是否支持单点登录和审计日志。",
    "今天没有联系上，留了语音消息。", "客户内部组织调整，新负责人需要重新介绍方案。", "报价已发出，客户说会尽快反馈。",
    "讨论了分期付款方案。", "客户要求补充数据安全相关的资质证明。", "参观了客户工厂，了解生产流程。",
    "客户计划明年扩大采购规模。", "对方对培训课程很感兴趣，希望安排线下培训。", "合同条款基本确认，剩余付款节点待定。",
    "客户提出需要与财务系统集成。",
]
EN_SENTENCES = [
    "Call with the IT lead about the integration with their ERP.", "They asked for a quote for the annual contract.",
    "Demo went well; the security team wants a second session.", "Budget approval is expected next quarter.",
    "Sent the product brochure and two customer case studies.", "Met the procurement manager on site.",
    "They are comparing three vendors and price is the main concern.", "Discussed single sign-on and audit logs.",
    "Customer wants a one-month pilot before signing.", "Meeting moved to next week, the CFO is travelling.",
    "Agreed on the implementation timeline and training plan.", "They asked about support response times.",
    "Sent the draft of the annual contract to their legal team.", "A competitor offered a lower price.",
    "Their data team cares about data security and on-premise deployment.", "Renewal discussion, they are happy.",
    "The outage reported last month is fixed, customer confirmed.", "Booked a technical workshop with a live demo.",
    "They want to cut costs with automation of the order workflow.", "No answer today, left a voicemail.",
    "New head of operations, we need to present the proposal again.", "Quote sent, they promised feedback soon.",
    "Discussed paying in instalments.", "They need proof of compliance certifications.",
    "Visited the plant and walked through the production line.", "They plan to expand the rollout next year.",
    "Training for their support staff is a priority.", "Contract terms agreed except the payment milestones.",
    "Integration with the finance system is a must-have.", "Followed up by email with the revised proposal.",
]
ZH_NEXT = ["发送报价单", "约技术交流会", "跟进合同审批", "安排上门演示", "确认试用结果", "回访满意度", "发送补充材料"]
EN_NEXT = ["send the quote", "book a workshop", "follow up on contract approval", "schedule a demo",
           "check pilot results", "satisfaction call", "send the missing documents"]
ZH_FEEDBACK = ["价格偏高", "功能满足需求", "需要内部讨论", "对服务满意", "暂无预算", "希望加快进度"]
EN_FEEDBACK = ["price is high", "features fit", "needs internal discussion", "happy with the service",
               "no budget yet", "wants it faster"]
ZH_NOTES = ["公司规模约 300 人，决策链较长。", "老客户介绍，信任度高。", "在展会上认识，对产品很感兴趣。",
            "技术团队较强，关注开放接口。", "采购流程严格，需要三方比价。"]
EN_NOTES = ["About 300 staff, long decision chain.", "Referred by an existing customer, high trust.",
            "Met at a trade show, keen on the product.", "Strong tech team, cares about open APIs.",
            "Strict procurement, needs three competing bids."]


@dataclass
class Options:
    seed: int
    today: date
    exact: bool = False


# ------------------------------------------------------------------ names


@dataclass(frozen=True)
class Name:
    """A company name, the industry it suggests and a stem for its e-mail domain."""

    text: str
    industry: str
    domain: str


@lru_cache(maxsize=4096)
def _pinyin(chars: str) -> str:
    return slugify(chars)


def customer_name(seed: int, index: int) -> Name:
    """Even indexes are Chinese companies, odd ones English (half and half)."""
    rng = random.Random(f"{seed}:name:{index}")
    industry = rng.choices(*INDUSTRIES)[0]
    if index % 2 == 0:
        city, brand = rng.choice(ZH_CITIES), rng.choice(ZH_BRAND_A) + rng.choice(ZH_BRAND_B)
        text = city + brand + rng.choice(ZH_KIND[industry]) + rng.choice(ZH_SUFFIX)
        return Name(text, industry, _pinyin(brand))
    brand = rng.choice(EN_BRAND_A) + rng.choice(EN_BRAND_B)
    text = " ".join(p for p in (brand, rng.choice(EN_KIND[industry]), rng.choice(EN_SUFFIX)) if p)
    return Name(text, industry, brand.lower())


def unique_names(seed: int, count: int) -> list[Name]:
    """Names for customers 0..count-1, re-drawn until unique (a real vault has few exact duplicates)."""
    names: list[Name] = []
    seen: set[str] = set()
    for index in range(count):
        name, attempt = customer_name(seed, index), 0
        while name.text in seen:
            attempt += 1
            name = customer_name(seed * 7919 + attempt, index)
        seen.add(name.text)
        names.append(name)
    return names


# ------------------------------------------------------------------ one customer


def _id(rng: random.Random, created: datetime) -> str:
    return f"c-{created:%Y%m%d}-" + "".join(rng.choice(CROCKFORD) for _ in range(8))


def _phone(rng: random.Random) -> str:
    # Mobile prefixes that phonenumbers accepts as valid CN numbers.
    prefix = rng.choice(["138", "139", "137", "136", "135", "150", "151", "158", "186", "188", "177", "199"])
    return "+86" + prefix + "".join(rng.choice("0123456789") for _ in range(8))


def _working_minute(rng: random.Random, day: date) -> datetime:
    return datetime(day.year, day.month, day.day, rng.randint(9, 17), rng.choice(range(0, 60, 5)))


def _stage_path(final: str, rng: random.Random) -> list[tuple[str, str]]:
    if final == "intent":
        return [("potential", "intent")]
    if final == "won":
        return [("potential", "intent"), ("intent", "won")]
    if final == "lost":
        return [("potential", "intent"), ("intent", "lost")] if rng.random() < 0.5 else [("potential", "lost")]
    return []


def _tags(rng: random.Random, zh: bool) -> list[str]:
    tags = [f"needs/{n}" for n in rng.sample(NEEDS, rng.choice([1, 1, 2]))]
    tags.append(f"budget/{rng.choices(*BUDGETS)[0]}")
    if rng.random() < 0.5:
        tags.append(f"role/{rng.choice(ROLES)}")
    if rng.random() < 0.6:
        tags.append(f"region/{rng.choice(ZH_REGIONS if zh else EN_REGIONS)}")
    if rng.random() < 0.15:
        tags.append(f"event/{rng.choice(ZH_EVENTS if zh else EN_EVENTS)}")
    if rng.random() < 0.06:
        tags.append(f"status/{rng.choice(['vip', 'at-risk', 'reference'])}")
    return tags


def _deals(rng: random.Random, stage: str, owner: str, zh: bool, today: date) -> list[dict[str, Any]]:
    count = {"potential": rng.choice([0, 0, 0, 1]), "intent": rng.choice([1, 1, 2]), "won": rng.choice([1, 1, 2]),
             "lost": rng.choice([0, 1])}[stage]
    deals = []
    for number in range(count):
        if stage == "won" and number == 0:
            deal_stage = "won"
        elif stage == "lost":
            deal_stage = "lost"
        else:
            deal_stage = rng.choice(["initial-contact", "needs-confirmed", "proposal", "negotiation"])
        product = rng.choice(ZH_PRODUCTS if zh else EN_PRODUCTS)
        phase = rng.choice(["一期", "二期", "续费", "扩容"]) if zh else rng.choice([" phase 1", " phase 2", " renewal"])
        amount = int(round(rng.lognormvariate(11.5, 0.9), -3)) or 1000
        deals.append({"name": product + phase, "stage": deal_stage, "amount": amount, "currency": "CNY",
                      "probability": DEAL_STAGES[deal_stage], "close": today + timedelta(days=rng.randint(-60, 120)),
                      "owner": owner})
    return deals


def customer_spec(seed: int, index: int, name: Name, today: date) -> tuple[dict[str, Any], list[FollowUp], str, int]:
    """Front-matter, follow-ups (oldest first), notes paragraph and target size of customer ``index``."""
    rng = random.Random(f"{seed}:{index}")
    zh = index % 2 == 0
    stage = rng.choices(*STAGES)[0]
    silent = stage in ("potential", "intent") and rng.random() < 0.18  # no contact for > 90 days
    owner = rng.choices(TEAM, TEAM_WEIGHTS)[0]
    created_day = today - timedelta(days=rng.randint(120, 1000))
    last_day = today - timedelta(days=rng.randint(91, 400) if silent or stage == "lost" else rng.randint(0, 60))
    last_day = max(last_day, created_day + timedelta(days=20))
    created = _working_minute(rng, created_day)
    contact = (rng.choice(ZH_SURNAMES) + rng.choice(ZH_TITLES) if zh
               else f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}")
    meta: dict[str, Any] = {"id": _id(rng, created), "name": name.text, "industry": name.industry, "contact": contact}
    if rng.random() < 0.92:
        meta["phone"] = _phone(rng)
    if rng.random() < 0.7 or "phone" not in meta:
        local = rng.choice(["info", "sales", "it", "purchase", "ceo", "ops"]) if zh else contact.split()[0].lower()
        meta["email"] = f"{local}@{name.domain}.{'cn' if zh else 'com'}"
    meta.update({"source": rng.choices(*SOURCES)[0], "stage": stage})
    if rng.random() < 0.9:
        meta["grade"] = rng.choices(*GRADES)[0]
    meta.update({"owner": owner, "tags": _tags(rng, zh), "created": created.strftime("%Y-%m-%dT%H:%M")})
    followups = _followups(rng, zh, owner, stage, created_day, last_day)
    if stage in ("potential", "intent", "won") and not silent and rng.random() < 0.3:
        meta["next_followup"] = today + timedelta(days=rng.randint(-7, 21))
    deals = _deals(rng, stage, owner, zh, today)
    if deals:
        meta["deals"] = deals
    notes = " ".join(rng.sample(ZH_NOTES if zh else EN_NOTES, 2))
    return meta, followups, notes, rng.randint(MIN_BYTES + 200, MAX_BYTES - 300)


def _followups(rng: random.Random, zh: bool, owner: str, stage: str, first: date, last: date) -> list[FollowUp]:
    count = rng.randint(5, 15)
    span = (last - first).days
    days = sorted(first + timedelta(days=d) for d in rng.sample(range(1, span + 1), min(count, span)))
    days[-1] = last
    moves = _stage_path(stage, rng)
    move_at = sorted(rng.sample(range(1, len(days)), min(len(moves), len(days) - 1)))
    channels = CHANNELS_ZH if zh else CHANNELS_EN
    out = []
    for number, day in enumerate(days):
        by = owner if rng.random() < 0.85 else rng.choice(TEAM)
        followup = FollowUp(at=_working_minute(rng, day), channel=rng.choices(*channels)[0], by=by)
        if number in move_at:
            followup.stage_from, followup.stage_to = moves[move_at.index(number)]
        if rng.random() < 0.45:
            followup.next_date = day + timedelta(days=rng.randint(2, 21))
            followup.next_what = rng.choice(ZH_NEXT if zh else EN_NEXT)
        if rng.random() < 0.3:
            followup.feedback = rng.choice(ZH_FEEDBACK if zh else EN_FEEDBACK)
        out.append(followup)
    return out


def _fill_notes(rng: random.Random, followups: list[FollowUp], zh: bool, budget: int) -> None:
    """Give every follow-up specific text until the file reaches about ``budget`` bytes."""
    sentences = ZH_SENTENCES if zh else EN_SENTENCES
    per_entry = max(budget // len(followups), 1)
    for followup in followups:
        picked = rng.sample(sentences, 6)
        text = picked.pop()
        while picked and len((text + picked[-1]).encode()) <= per_entry:
            text += ("" if zh else " ") + picked.pop()
        followup.note = text


# ------------------------------------------------------------------ rendering


def file_text(meta: dict[str, Any], followups: list[FollowUp], notes: str, zh: bool, exact: bool) -> str:
    """The whole file: what ``new_file_text`` writes, the notes, then each entry as ``log`` appends it."""
    language = "zh" if zh else "en"
    render = note.yaml_file_text if exact else note.new_file_text  # the same bytes; exact runs PyYAML's dumper
    head = render(meta, str(meta["name"]), language)
    notes_heading = "## 备注\n" if zh else "## Notes\n"
    head = head.replace(notes_heading, notes_heading + "\n" + notes + "\n", 1)
    return head + "".join("\n" + note.render_followup(f) for f in followups)


def render_customer(seed: int, index: int, name: Name, today: date, exact: bool = False) -> tuple[Path, str]:
    """(path inside customers/, text) of customer ``index``, sized to 2–4 KB."""
    meta, followups, notes, target = customer_spec(seed, index, name, today)
    zh = index % 2 == 0
    rng = random.Random(f"{seed}:text:{index}")
    skeleton = file_text(meta, followups, notes, zh, exact=False)
    _fill_notes(rng, followups, zh, target - len(skeleton.encode()))
    text = file_text(meta, followups, notes, zh, exact=False)
    pool = ZH_SENTENCES if zh else EN_SENTENCES
    missing = target - 60 - len(text.encode())
    if missing > 0:  # sentences are coarse: top the notes up to the size drawn
        while missing > 0:
            more = ("" if zh else " ") + rng.choice(pool)
            notes += more
            missing -= len(more.encode())
        text = file_text(meta, followups, notes, zh, exact=False)
    if exact:
        text = file_text(meta, followups, notes, zh, exact)
    while len(text.encode()) > MAX_BYTES and len(followups) > 5:  # many entries with long lines: drop the oldest
        followups.pop(0)
        text = file_text(meta, followups, notes, zh, exact)
    return customer_relpath(name.text, str(meta["id"])), text


# ------------------------------------------------------------------ writing


def _write_chunk(args: tuple[Path, int, list[tuple[int, Name]], date, bool]) -> list[str]:
    root, seed, items, today, exact = args
    written = []
    for index, name in items:
        relpath, text = render_customer(seed, index, name, today, exact)
        path = root / CUSTOMERS_DIR / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two customers mapping to one path (same slug and same 4 id chars) must fail loudly.
        with open(path, "x", encoding="utf-8", newline="") as handle:
            handle.write(text)
        written.append(relpath.as_posix())
    return written


def _chunks(names: list[Name], size: int) -> Iterable[list[tuple[int, Name]]]:
    for start in range(0, len(names), size):
        yield list(enumerate(names[start : start + size], start=start))


def generate(out: Path, customers: int, seed: int, today: date | None = None, exact: bool = False,
             workers: int | None = None) -> list[str]:
    """Create the vault at ``out`` and return the customer paths written (relative to customers/)."""
    today = today or date.today()
    actions.create_vault(out)
    names = unique_names(seed, customers)
    slugify("预热")  # load pypinyin's dictionaries once, before forking, so workers share them
    jobs = [(out, seed, chunk, today, exact) for chunk in _chunks(names, CHUNK)]
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) == 1:
        results = [_write_chunk(job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_write_chunk, jobs))
    return [path for chunk in results for path in chunk]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="new or empty folder for the vault")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--today", type=date.fromisoformat, default=None,
                        help="date the vault's dates are placed around (default: today)")
    parser.add_argument("--exact", action="store_true", help="render every file through note.new_file_text (slow)")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    paths = generate(args.out, args.customers, args.seed, args.today, args.exact, args.workers)
    print(f"{len(paths)} customers written to {args.out} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
