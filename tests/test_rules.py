"""Field rules, sensitive numbers, names and duplicates (rules, naming, dedupe)."""

from __future__ import annotations

import pytest

from crmnotes import rules
from crmnotes.config import load_config
from crmnotes.dedupe import Candidate, find_duplicates, name_key
from crmnotes.naming import customer_relpath, looks_like_id, new_id, slugify, strip_company_suffix
from crmnotes.vault import Vault


@pytest.fixture
def config(empty_vault: Vault):
    return empty_vault.config


@pytest.mark.parametrize(("typed", "e164"), [
    ("138 0013 8000", "+8613800138000"),
    ("+86 138-0013-8000", "+8613800138000"),
    ("(021) 6234 5678", "+862162345678"),
    ("+1 415 555 2671", "+14155552671"),
    ("13800138000", "+8613800138000"),
])
def test_phones_normalize_to_e164_with_the_vault_region(typed: str, e164: str) -> None:
    assert rules.normalize_phone(typed, "CN") == e164


@pytest.mark.parametrize("bad", ["12345", "电话号码", "138001380001234", ""])
def test_invalid_phones_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        rules.normalize_phone(bad, "CN")


def test_phone_masking() -> None:
    assert rules.mask_phone("+8613800138000", "CN") == "138****8000"
    masked = rules.mask_phone("+14155552671", "CN")
    assert masked.startswith("+1 ") and masked.endswith("2671") and "555" not in masked


def test_common_calling_codes_are_phonenumbers_own() -> None:
    import phonenumbers

    for region, code in rules.COMMON_CALLING_CODES.items():
        assert code == str(phonenumbers.country_code_for_region(region)), region
    assert rules.mask_phone("+85291234567", "HK") == "9***4567"
    assert rules.mask_phone("+358401234567", "FI") == "401**4567"  # not in the table: phonenumbers answers


def test_prc_id_checksum_and_luhn() -> None:
    assert rules.is_prc_id("11010519491231002X")
    assert not rules.is_prc_id("110105194912310021")  # wrong check digit
    assert not rules.is_prc_id("110105194913310025")  # month 13
    assert rules.is_bank_card("6222 0212 3456 7890 128") is rules.luhn_valid("6222021234567890128")
    assert rules.is_bank_card("4111-1111-1111-1111")
    assert not rules.is_bank_card("4111111111111112")  # Luhn fails


def test_find_sensitive_ignores_ordinary_numbers() -> None:
    text = "订单号 20241123000123，电话 13800138000，金额 180000，身份证 11010519491231002X，卡 4111111111111111"
    kinds = [kind for kind, _, _ in rules.find_sensitive(text)]
    assert kinds == ["PRC resident ID number", "bank card number"]
    assert all("1101051949" not in masked for _, masked, _ in rules.find_sensitive(text))


def test_prepare_fields_canonicalizes_chinese_labels_and_aliases(config) -> None:
    values, issues = rules.prepare_fields(
        {"stage": "意向", "source": "展会", "industry": "软件", "grade": "a",
         "tags": "budget/50k-plus，needs/data-security、x"},
        config,
    )
    assert values["stage"] == "intent" and values["source"] == "trade-show" and values["industry"] == "internet"
    assert values["grade"] == "A"
    assert values["tags"] == ["budget/50k-plus", "needs/data-security", "x"]
    assert issues == []


def test_prepare_fields_reports_each_bad_field(config) -> None:
    _, issues = rules.prepare_fields(
        {"stage": "hot", "phone": "123", "email": "not-an-email", "silly name": "x", "id": "c-1", "source": "???"},
        config,
    )
    assert {i.field for i in issues} == {"stage", "phone", "email", "silly name", "id", "source"}
    stage_issue = next(i for i in issues if i.field == "stage")
    assert "potential" in stage_issue.message and "意向" in stage_issue.message


def test_silent_stage_cannot_be_set_by_hand(config) -> None:
    _, issues = rules.prepare_fields({"stage": "沉默"}, config)
    assert "computed" in issues[0].message


def test_tag_rules(config) -> None:
    issues = rules.tag_issues(["budget/50k-plus", "budget/huge", "region/华东", "vip", "needs/"], config)
    messages = " | ".join(i.message for i in issues)
    assert "huge" in messages and "ad hoc" in messages and "needs a value" in messages
    assert "region/华东" not in messages  # any value is allowed in region/
    assert {i.severity for i in issues if "ad hoc" in i.message} == {"warning"}


def test_validate_meta_flags_missing_required_and_sensitive(config) -> None:
    issues = rules.validate_meta({"id": new_id(), "name": "星辰", "stage": "intent", "created": "2025-01-01",
                                  "notes": "卡号 4111111111111111"}, config)
    fields = {i.field for i in issues}
    assert {"industry", "contact", "phone", "sensitive"} <= fields


def test_ids_are_unique_and_recognizable() -> None:
    ids = {new_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert all(looks_like_id(i) for i in ids)


@pytest.mark.parametrize(("name", "slug"), [
    ("星辰科技有限公司", "xingchenkeji"),
    ("Acme Co., Ltd.", "acme"),
    ("北京·数据 AI 有限公司", "beijing-shuju-ai"),
    ("../../etc/passwd", "etc-passwd"),
    ("CON", "customer-con"),
    ("😀", "customer"),
])
def test_slugs_are_safe(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_paths_stay_inside_customers_and_are_short() -> None:
    for name in ["../../x", "a" * 500, "COM1", "name/with\\slashes", "星辰" * 100]:
        path = customer_relpath(name, new_id())
        assert ".." not in path.parts and len(path.parts) == 2 and len(path.name) <= 60
        assert path.name.endswith(".md") and path.name.isascii()


def test_company_suffixes() -> None:
    assert strip_company_suffix("华东精密制造股份有限公司") == "华东精密制造"
    assert strip_company_suffix("Cosco") == "Cosco"
    assert name_key("ACME, Inc.") == name_key("acme") == "acme"
    assert name_key("星辰科技有限公司") == name_key("星辰科技") == "星辰科技"


def test_duplicates_by_name_phone_email_and_fuzzy() -> None:
    existing = [
        Candidate("c-1", "星辰科技有限公司", ("+8613800138000",), "wang@xc.cn"),
        Candidate("c-2", "Acme Analytics Inc.", (), "sarah@acme.example"),
        Candidate("c-3", "华东精密制造股份有限公司"),
    ]
    def reasons(**kw) -> list[str]:
        return [m.reason for m in find_duplicates(Candidate("new", **kw), existing)]

    assert reasons(name="星辰科技") == ["same name"]
    assert reasons(name="别的公司", phones=("+8613800138000",)) == ["same phone 138****8000"]
    assert reasons(name="Other", email="SARAH@acme.example") == ["same email sarah@acme.example"]
    assert reasons(name="Acme Analytic") == ["one name contains the other"]
    assert reasons(name="Acme Analytcs") and "similar" in reasons(name="Acme Analytcs")[0]
    assert reasons(name="北京云帆教育") == []


def test_config_errors_are_clear(tmp_path) -> None:
    bad = tmp_path / "crmnotes.yaml"
    bad.write_text("fields:\n  stage: {type: choice, choices: nowhere}\nchoices: {}\n", encoding="utf-8")
    with pytest.raises(Exception, match="nowhere"):
        load_config(bad)
    bad.write_text("fields: [\n", encoding="utf-8")
    with pytest.raises(Exception, match="not valid YAML"):
        load_config(bad)


def test_messages_never_echo_a_sensitive_number(config) -> None:
    _, issues = rules.prepare_fields({"email": "4111111111111111", "tags": "卡号-4111111111111111"}, config)
    issues += rules.validate_meta({"tags": ["11010519491231002X"], "email": "11010519491231002X"}, config)
    text = " ".join(i.message for i in issues)
    assert "4111111111111111" not in text and "11010519491231002X" not in text
    assert "4111********1111" in text and "1101**********002X" in text
