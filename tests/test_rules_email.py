"""Email addresses: the syntax people write, Chinese domain names included, checked without email-validator."""

from __future__ import annotations

import pytest

from crmnotes import rules
from crmnotes.vault import Vault


@pytest.mark.parametrize(("typed", "stored"), [
    ("wang.jl@xingchen-tech.cn", "wang.jl@xingchen-tech.cn"),
    ("Wang.JL@XingChen-Tech.CN", "Wang.JL@xingchen-tech.cn"),  # the domain is folded, the mailbox kept as written
    ("张三@例子.中国", "张三@例子.中国"),
    ("王经理@星辰科技.公司", "王经理@星辰科技.公司"),
    ("sales@xn--fsqu00a.xn--fiqs8s", "sales@例子.中国"),  # punycode as a mail program may show it
    ("sales@例子。中国", "sales@例子.中国"),  # the Chinese full stop typed with a Chinese keyboard
    ("sales@ＸＩＮＧＣＨＥＮ.ｃｎ", "sales@xingchen.cn"),  # full-width letters
    ("li+crm@qq.com", "li+crm@qq.com"),
    ("o'brien_1@mail.example.co.uk", "o'brien_1@mail.example.co.uk"),
    ("müller@straße.de", "müller@straße.de"),  # IDNA 2008 keeps ß (IDNA 2003 would turn the domain into strasse.de)
    ("  li@qq.com  ", "li@qq.com"),
])
def test_addresses_are_accepted_and_normalized(typed: str, stored: str) -> None:
    assert rules.normalize_email(typed) == stored


@pytest.mark.parametrize(("typed", "reason"), [
    ("not-an-email", "no @"),
    ("@xingchen.cn", "nothing before the @"),
    ("wang@", "nothing after the @"),
    ("wang@@xingchen.cn", "second @"),
    ("wang li@xingchen.cn", "space"),
    ("wang..li@xingchen.cn", "cannot hold"),
    ('"wang li"@xingchen.cn', "cannot hold"),
    ("wang@星辰", "not a domain name mail can reach"),
    ("wang@localhost", "not a domain name mail can reach"),
    ("wang@1.2.3.4", "not a domain name mail can reach"),
    ("wang@[10.0.0.1]", "is not a domain name"),
    ("wang@-xingchen.cn", "is not a domain name"),
    ("wang@xingchen..cn", "is not a domain name"),
    ("wang@xing_chen.cn", "is not a domain name"),
    ("wang@星辰\u200b.中国", "is not a domain name"),  # an invisible character in the domain
    ("wang@" + "星" * 70 + ".中国", "is not a domain name"),  # a label longer than 63 ASCII characters
    ("w" * 65 + "@xingchen.cn", "longer than 64 bytes"),
])
def test_malformed_addresses_are_refused_with_the_reason(typed: str, reason: str) -> None:
    with pytest.raises(ValueError, match="is not a valid email address") as refused:
        rules.normalize_email(typed)
    assert reason in str(refused.value)


def test_typed_and_stored_emails_go_through_the_same_rule(empty_vault: Vault) -> None:
    config = empty_vault.config
    fields, issues = rules.prepare_fields({"name": "例子科技", "email": "张三@XN--FSQU00A.XN--FIQS8S"}, config)
    assert fields["email"] == "张三@例子.中国" and not issues
    _, issues = rules.prepare_fields({"name": "例子科技", "email": "张三@例子"}, config)
    assert [issue.field for issue in issues] == ["email"]
    stored = [i.field for i in rules.validate_meta({"name": "例子科技", "email": "张三@例子.中国"}, config)]
    assert "email" not in stored
    stored = [i.field for i in rules.validate_meta({"name": "例子科技", "email": "张三 例子.中国"}, config)]
    assert "email" in stored
