from __future__ import annotations

import pytest

from service.privacy import (
    BANK_CARD_MASK,
    EMAIL_MASK,
    ID_CARD_MASK,
    LANDLINE_MASK,
    MOBILE_MASK,
    loggable_text,
    mask_pii,
)


@pytest.mark.parametrize(
    ("text", "secret", "mask"),
    [
        ("我的手机13812345678，快点回电", "13812345678", MOBILE_MASK),
        ("电话 +86 138-1234-5678", "138-1234-5678", MOBILE_MASK),
        ("打0086 15912345678", "15912345678", MOBILE_MASK),
        ("号码是 139 1234 5678", "139 1234 5678", MOBILE_MASK),
        ("全角１３８１２３４５６７８", "１３８１２３４５６７８", MOBILE_MASK),
        ("座机010-62345678", "62345678", LANDLINE_MASK),
        ("座机010-12345678", "12345678", LANDLINE_MASK),
        ("座机（0755）2345678转", "2345678", LANDLINE_MASK),
        ("身份证11010119900307123X号", "11010119900307123X", ID_CARD_MASK),
        ("身份证号11010119900307123x", "11010119900307123x", ID_CARD_MASK),
        ("身份证 110101199003071234", "110101199003071234", ID_CARD_MASK),
        ("卡号6222021234567890", "6222021234567890", BANK_CARD_MASK),
        ("卡号6222021234567890123扣了钱", "6222021234567890123", BANK_CARD_MASK),
        ("卡号 6222 0212 3456 7890 123", "6222 0212 3456 7890 123", BANK_CARD_MASK),
        ("卡号6222-0212-3456-7890", "6222-0212-3456-7890", BANK_CARD_MASK),
        ("发到 zhang.san+kf@example.com.cn 吧", "zhang.san+kf@example.com.cn", EMAIL_MASK),
    ],
)
def test_masks_personal_data(text: str, secret: str, mask: str) -> None:
    masked = mask_pii(text)
    assert secret not in masked
    assert mask in masked


@pytest.mark.parametrize(
    "text",
    [
        "订单号202305120001还没发货",  # 12 digits
        "订单号 123456789012345",  # 15 digits: shorter than any card
        "订单DD20230512001",
        "快递单号SF1234567890123",
        "退款 1380.00 元，优惠券 50 元",
        "2023年5月12日下的单，等了5天",
        "型号 iPhone 15 Pro 256GB",
        "第3次打电话了",
    ],
)
def test_keeps_order_numbers_amounts_and_dates(text: str) -> None:
    assert mask_pii(text) == text


def test_masks_several_items_and_keeps_the_rest() -> None:
    text = "订单202305120001，手机13812345678，邮箱a@b.cn，卡6222021234567890"
    assert mask_pii(text) == f"订单202305120001，手机{MOBILE_MASK}，邮箱{EMAIL_MASK}，卡{BANK_CARD_MASK}"


def test_loggable_text_hides_text_unless_opted_in_and_masks_anyway() -> None:
    text = "我的手机13812345678"
    assert loggable_text(text, log_text=False) == f"<{len(text)} chars>"
    assert loggable_text(text, log_text=True) == f"我的手机{MOBILE_MASK}"
