import pytest

from smsdesk.errors import ValidationError
from smsdesk.text import EmptyMessage, MessageTooLong, check_length, credits_for, max_units, multiplier_for
from smsdesk.text.pricing import normalise_multipliers


@pytest.mark.parametrize(
    ("n", "enc", "units"),
    [(1, "GSM-7", 160), (2, "GSM-7", 306), (3, "GSM-7", 459), (10, "GSM-7", 1530), (1, "UCS-2", 70), (3, "UCS-2", 201)],
)
def test_max_units(n, enc, units):
    assert max_units(n, enc) == units


def test_check_length_at_limit_and_over():
    assert check_length("a" * 459, 3).segments == 3
    assert check_length("ê" * 201, 3).segments == 3
    with pytest.raises(MessageTooLong) as e:
        check_length("a" * 460, 3)
    err = e.value
    assert isinstance(err, ValidationError)
    assert err.status == 422 and err.code == "message_too_long" and err.field == "text"
    assert err.details == {"segments": 4, "max_segments": 3, "units": 460, "max_units": 459, "encoding": "GSM-7"}
    assert "4 SMS segments" in err.message and "459" in err.message
    assert err.body()["error"]["segments"] == 4


def test_check_length_ucs2_over_limit():
    with pytest.raises(MessageTooLong) as e:
        check_length("ê" * 202, 3)
    assert e.value.details["encoding"] == "UCS-2" and e.value.details["max_units"] == 201


def test_check_length_single_segment_channel():
    check_length("a" * 160, 1)
    with pytest.raises(MessageTooLong, match="limit is 1 segment "):
        check_length("a" * 161, 1)


def test_check_length_refuses_empty():
    with pytest.raises(EmptyMessage):
        check_length("")


def test_credits():
    m = {"FR": 1, "*": 2}
    assert credits_for(3) == 3
    assert credits_for(3, "FR", m) == 3
    assert credits_for(3, "fr", m) == 3
    assert credits_for(3, "NL", m) == 6
    assert credits_for(3, None, m) == 6
    assert credits_for(0, "NL", m) == 0
    assert multiplier_for("DE", {"FR": 5}) == 1  # no "*": 1


def test_normalise_multipliers():
    assert normalise_multipliers({"fr": 1, "*": 3}) == {"FR": 1, "*": 3}
    assert normalise_multipliers({"FR": 2}) == {"FR": 2, "*": 1}
    for bad in ({"FRA": 1}, {"FR": 0}, {"FR": -1}, {"FR": 1.5}, {"FR": True}, {"": 1}):
        with pytest.raises(ValueError):
            normalise_multipliers(bad)
