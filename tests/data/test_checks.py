"""data.checks: the scalar checks every package shares."""

from __future__ import annotations

import numpy as np
import pytest

from data.checks import check_int, check_real
from data.errors import InvalidParameterError


def test_integers_numpy_ones_too_within_their_bounds() -> None:
    assert check_int(np.int64(3), "n", 1) == 3 and type(check_int(np.int64(3), "n", 1)) is int
    assert check_int(0, "n") == 0
    assert check_int(10, "n", 1, 10) == 10


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (0, r"^n must be an integer >= 1, got 0$"),
        (True, r"^n must be an integer >= 1, got True$"),
        (2.0, r"^n must be an integer >= 1, got 2.0$"),
        ("3", r"^n must be an integer >= 1, got '3'$"),
        (11, r"^n must be at most 10, got 11$"),
    ],
)
def test_what_is_no_integer_in_range_is_refused(value, match) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        check_int(value, "n", 1, 10)


def test_reals_are_finite_numbers() -> None:
    assert check_real(np.float32(0.5), "x") == 0.5 and type(check_real(1, "x")) is float
    for bad, match in ((True, "real number"), ("1", "real number"), (np.inf, "finite")):
        with pytest.raises(InvalidParameterError, match=f"^x must be (a )?{match}"):
            check_real(bad, "x")
    with pytest.raises(InvalidParameterError, match=r"^x must be finite, got nan$"):
        check_real(float("nan"), "x")


def test_an_integer_beyond_float_is_not_finite() -> None:
    """10**400 was a raw OverflowError (found by a review)."""
    for big in (10**400, -(10**400)):
        with pytest.raises(InvalidParameterError, match=r"^x must be finite, got -?inf$"):
            check_real(big, "x")


def test_time_zone_objects_give_their_names() -> None:
    """dateutil's zone was refused once validate_market_data and day_profiles checked tz
    (found by a review): its str() is tzfile('/usr/share/zoneinfo/...')."""
    import datetime as dt
    import zoneinfo

    import dateutil.tz

    from data.zones import check_tz

    for tz in (dateutil.tz.gettz("Europe/Madrid"), zoneinfo.ZoneInfo("Europe/Madrid")):
        assert check_tz(tz) == "Europe/Madrid"
    assert check_tz(dt.UTC) == "UTC"
    with pytest.raises(InvalidParameterError, match="unknown time zone 'Mars/X'"):
        check_tz("Mars/X")


def test_a_0d_array_is_the_scalar_it_holds() -> None:
    # np.array(2.0) was refused by check_real where float() had taken it (TypedLQGame's
    # horizon, AgentParams.from_type)
    assert check_real(np.array(2.5), "x") == 2.5 and type(check_real(np.array(2.5), "x")) is float
    assert check_int(np.array(3), "n", 1) == 3
    with pytest.raises(InvalidParameterError, match="got True"):
        check_real(np.array(True), "x")
    with pytest.raises(InvalidParameterError, match=r"got array\(\[3\]\)"):
        check_int(np.array([3]), "n")


@pytest.mark.parametrize("value", ["no", "False", 0, 1, None, 1.0])
def test_flags_given_as_text_or_numbers_are_refused(value) -> None:
    """``fair='no'``, ``multipart='no'`` and ``strict_index='no'`` were read as True."""
    from data import load_market_data
    from data.checks import check_bool
    from data.errors import InvalidParameterError

    assert check_bool(True, "x") is True and check_bool(np.bool_(False), "x") is False
    with pytest.raises(InvalidParameterError, match=r"^fair must be True or False, got "):
        check_bool(value, "fair")
    with pytest.raises(InvalidParameterError, match=r"^strict_index must be True or False"):
        load_market_data("ES", "2017-06-01", "2017-06-02", strict_index=value)


def test_check_type_names_what_was_wanted_and_what_came() -> None:
    from data.checks import check_type

    assert check_type(3, int, "n") == 3
    with pytest.raises(InvalidParameterError) as info:
        check_type("x", (int, float), "n", "a count")
    assert str(info.value) == "n must be a int or float (a count), got str"


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_blank_paths_are_refused(blank: str) -> None:
    """A variable that expanded to nothing, or to white space, is not the working directory
    (``Path("   ")`` would be a folder named by three spaces)."""
    from data.checks import check_path_given

    with pytest.raises(InvalidParameterError, match=r"^--source is an empty path: give a file$"):
        check_path_given(blank, "--source", "a file")
    check_path_given(" a.csv ", "--source", "a file")  # a name with spaces is a name
    check_path_given(None, "--source", "a file")  # not given: the default
