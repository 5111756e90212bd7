"""crm remind: each chat robot format posted to a local HTTP server (and mail to a local SMTP server) started
by the test; payloads asserted; phones masked, no ID or card numbers; failures retried, reported, kept."""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import threading
from collections.abc import Iterator
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from crmnotes import actions, remind
from crmnotes.vault import Vault

from .conftest import Crm

apprise = pytest.importorskip("apprise")

TODAY = date(2026, 12, 2)
NOW = datetime(2026, 12, 2, 8, 0)


class Robots(BaseHTTPRequestHandler):
    """Answers like the robots' APIs; a path with ``fail`` always fails, ``flaky`` fails once."""

    received: ClassVar[list[dict[str, Any]]] = []
    seen_flaky = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Robots.received.append({"path": self.path, "type": self.headers.get("Content-Type"), "body": body})
        failing = "fail" in self.path or ("flaky" in self.path and not Robots.seen_flaky)
        if "flaky" in self.path:
            Robots.seen_flaky = True
        self.send_response(500 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"ok" if self.path.startswith("/slack/") else b'{"errcode": 0, "errmsg": "ok", "code": 0}')

    def log_message(self, *args: Any) -> None:
        pass


class Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP to take one message."""

    messages: ClassVar[list[str]] = []

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 localhost ESMTP")
        while line := self.rfile.readline().decode("utf-8", "replace").strip():
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-localhost")
                self.reply("250 8BITMIME")
            elif verb == "DATA":
                self.reply("354 go on")
                data = []
                while (part := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    data.append(part.decode("utf-8", "replace"))
                Smtp.messages.append("".join(data))
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    Robots.received, Robots.seen_flaky, Smtp.messages = [], False, []
    http = ThreadingHTTPServer(("127.0.0.1", 0), Robots)
    smtp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Smtp)
    for server in (http, smtp):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{http.server_address[1]}"
    # The robots' endpoints are fixed https hosts inside apprise's plugins: point them at the local server.
    from apprise.plugins.dingtalk import NotifyDingTalk
    from apprise.plugins.feishu import NotifyFeishu
    from apprise.plugins.slack import NotifySlack
    from apprise.plugins.wecombot import NotifyWeComBot

    monkeypatch.setattr(NotifyWeComBot, "notify_url", base + "/wecom/send?key={key}")
    monkeypatch.setattr(NotifyDingTalk, "notify_url", base + "/dingtalk/send?access_token={token}")
    monkeypatch.setattr(NotifyFeishu, "notify_url", base + "/feishu/hook/{token}/")
    monkeypatch.setattr(NotifySlack, "webhook_url", base + "/slack/services")
    yield base, smtp.server_address[1]
    for server in (http, smtp):
        server.shutdown()
        server.server_close()


def routed_vault(tmp_path: Path, smtp_port: int, *, extra_urls: str = "") -> Vault:
    vault = Vault(actions.create_vault(tmp_path / "vault", example=True, today=TODAY))
    entry = actions.LogEntry(note="电话沟通", at=NOW, by="张伟", next="今天下午3点 @李娜 发送报价")
    actions.log_followup(vault, vault.resolve("星辰"), entry, now=NOW)
    mail = f"mailto://127.0.0.1:{smtp_port}?from=crm@example.com&to=lina@example.com&mode=insecure"
    config = vault.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f"""
reminders:
  people:
    李娜: ["wecombot://lina-key", "{mail}"]
  teams:
    销售一组: {{members: [张伟, 李娜], urls: ["dingtalk://teamtoken0123", "feishu://team-hook"]}}
  everyone: ["slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"{extra_urls}]
  retries: 1
  retry_delay: 0
""", encoding="utf-8")
    return Vault(vault.root)


def by_robot(prefix: str) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in Robots.received if r["path"].startswith(prefix)]


def test_each_robot_receives_its_own_format(tmp_path: Path, servers: tuple[str, int]) -> None:
    _, smtp_port = servers
    vault = routed_vault(tmp_path, smtp_port)
    results = remind.remind(vault, TODAY)
    assert all(d.ok for _, _, _, deliveries in results for d in deliveries)
    (wecom,) = by_robot("/wecom/send?key=lina-key")
    assert wecom["msgtype"] == "text" and "15:00 星辰科技有限公司 @李娜 发送报价" in wecom["text"]["content"]
    (ding,) = by_robot("/dingtalk/send?access_token=teamtoken0123")
    assert ding["msgtype"] in ("text", "markdown") and "发送报价" in json.dumps(ding, ensure_ascii=False)
    (feishu,) = by_robot("/feishu/hook/team-hook/")
    assert feishu["msg_type"] == "text" and "发送报价" in feishu["content"]["text"]
    (slack,) = by_robot("/slack/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7")
    assert "发送报价" in json.dumps(slack, ensure_ascii=False)
    (mail,) = Smtp.messages
    parsed = email.message_from_string(mail, policy=email.policy.default)
    assert (parsed["To"], parsed["From"]) == ("lina@example.com", "crm@example.com") and "李娜" in parsed["Subject"]
    assert "15:00 星辰科技有限公司 @李娜 发送报价（王经理 138****8000）" in parsed.get_body().get_content()
    everything = json.dumps([json.loads(r["body"]) for r in Robots.received], ensure_ascii=False) + mail
    assert "王经理 138****8000" in wecom["text"]["content"] and "13800138000" not in everything


def test_phones_masked_and_id_numbers_never_sent(tmp_path: Path, servers: tuple[str, int]) -> None:
    _, smtp_port = servers
    vault = routed_vault(tmp_path, smtp_port)
    star = vault.resolve("星辰")
    path = star.path
    text = path.read_text(encoding="utf-8").replace("发送报价", "发送报价 回电13912345678 身份证11010519491231002X")
    path.write_text(text, encoding="utf-8")
    remind.remind(vault, TODAY)
    (wecom,) = by_robot("/wecom/send")
    content = wecom["text"]["content"]
    assert "139****5678" in content and "13912345678" not in content
    assert "11010519491231002X" not in content and "王经理 138****8000" in content


def test_failures_are_retried_reported_and_kept(tmp_path: Path, servers: tuple[str, int]) -> None:
    base, smtp_port = servers
    extra = f', "json://{base.removeprefix("http://")}/fail/hook", "json://{base.removeprefix("http://")}/flaky/hook"'
    vault = routed_vault(tmp_path, smtp_port, extra_urls=extra)
    results = remind.remind(vault, TODAY)
    deliveries = {d.url.split("?")[0]: d for _, _, _, found in results for d in found}
    failed = next(d for url, d in deliveries.items() if "/fail/" in url)
    flaky = next(d for url, d in deliveries.items() if "/flaky/" in url)
    assert (failed.ok, failed.attempts) == (False, 2) and "500" in failed.error
    assert failed.kept is not None and "发送报价" in failed.kept.read_text(encoding="utf-8")
    assert (flaky.ok, flaky.attempts) == (True, 2)
    assert sum(1 for r in Robots.received if "/fail/" in r["path"]) == 2
    posted = json.loads(next(r["body"] for r in Robots.received if "/flaky/" in r["path"]))
    assert "发送报价" in posted["message"]


def test_cli_reports_a_failure_in_one_line_and_exits_non_zero(tmp_path: Path, servers: tuple[str, int]) -> None:
    base, smtp_port = servers
    vault = routed_vault(tmp_path, smtp_port, extra_urls=f', "json://{base.removeprefix("http://")}/fail/x"')
    crm = Crm(vault.root)
    result = crm("remind", "--on", TODAY.isoformat(), ok=False)
    assert "failed after 2 attempt(s)" in result.stderr and "Traceback" not in result.stderr
    dry = crm("remind", "--on", TODAY.isoformat(), "--dry-run", "--json").json()
    assert {r["route"] for r in dry} == {"李娜", "销售一组", "everyone"} and all(not r["deliveries"] for r in dry)


def test_no_routes_is_a_clear_error(crm_empty) -> None:
    result = crm_empty("remind", ok=False)
    assert "no reminder routes" in result.stderr


def test_watch_announces_timed_tasks_when_their_time_comes(tmp_path: Path, servers: tuple[str, int]) -> None:
    base, smtp_port = servers
    vault = routed_vault(tmp_path, smtp_port)
    config = vault.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f'  desktop: ["json://{base.removeprefix("http://")}/desk"]\n',
                      encoding="utf-8")
    vault = Vault(vault.root)
    customers = vault.scan().customers
    at = datetime(2026, 12, 2, 14, 0)
    assert remind.falling_due(customers, vault.config, at, at.replace(minute=59)) == []
    items = remind.falling_due(customers, vault.config, at.replace(minute=59), at.replace(hour=15, minute=0))
    assert [(i.customer.name, i.what) for i in items] == [("星辰科技有限公司", "发送报价")]
    (delivery,) = remind.announce(vault, items)
    assert delivery.ok
    (posted,) = [json.loads(r["body"]) for r in Robots.received if r["path"].startswith("/desk")]
    assert posted["title"] == "15:00 星辰科技有限公司" and "王经理 138****8000" in posted["message"]
