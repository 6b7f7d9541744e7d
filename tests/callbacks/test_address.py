"""The capability in a callback URL (callbacks/address.py): the path names one waiting task, the ``token``
query parameter signs that name under its connection's ``callback_secret``; and the connection extras that
switch callbacks on. Pure: no Airflow, no I/O."""

from __future__ import annotations

import base64
import string
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_videotask.api.errors import VideoTaskValidationError
from airflow_provider_videotask.callbacks.address import (
    PATH,
    CallbackConfig,
    WaitAddress,
    address_name,
    callback_config,
    callback_url,
    read_address,
    signature_for,
    verify,
)

SECRET = "s3cret-0123456789-abcdef"
OTHER_SECRET = "another-secret-9876543210"
ADDRESS = WaitAddress("acedatacloud_default", "make_videos", "scheduled__2026-01-01T00:00:00+00:00", "submit", -1)
ALPHABET = string.ascii_letters + string.digits + "-_"  # base64url, as names and signatures are spelled


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(address: WaitAddress = ADDRESS, secret: str = SECRET) -> tuple[str, str]:
    name = address_name(address)
    return name, signature_for(name, secret)


# ----- the address and its signature --------------------------------------------------------------------


@pytest.mark.parametrize("map_index", [-1, 7])
def test_an_address_name_reads_back_as_its_address(map_index: int) -> None:
    address = WaitAddress("hidream_default", "dag", "manual__2026-05-01T10:00:00+00:00", "wait", map_index)
    name, signature = _signed(address)
    read = read_address(name)
    assert read == address
    assert read is not None
    assert read.map_index == map_index
    assert verify(name, signature, SECRET)


def test_names_and_signatures_are_url_safe_and_unpadded() -> None:
    name, signature = _signed()
    assert set(name) <= set(ALPHABET)
    assert set(signature) <= set(ALPHABET)
    assert len(signature) == 43  # 32 bytes of HMAC-SHA256, base64url without padding


def test_the_name_holds_neither_the_signature_nor_the_secret() -> None:
    name, signature = _signed()
    assert signature not in name
    assert SECRET not in base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()


def test_the_same_name_and_secret_make_the_same_signature() -> None:
    name, signature = _signed()
    assert signature_for(name, SECRET) == signature
    assert signature_for(name, OTHER_SECRET) != signature


def test_a_signature_verifies_only_under_its_own_secret() -> None:
    name, signature = _signed()
    assert verify(name, signature, SECRET) is True
    assert verify(name, signature, OTHER_SECRET) is False
    assert verify(name, signature, SECRET + "x") is False
    assert verify(name, signature, SECRET[:-1]) is False


def test_a_signature_made_under_one_secret_does_not_verify_under_another() -> None:
    name, theirs = _signed(secret=OTHER_SECRET)
    assert verify(name, theirs, OTHER_SECRET) is True
    assert verify(name, theirs, SECRET) is False


def test_a_signature_for_another_address_does_not_verify() -> None:
    other = WaitAddress(ADDRESS.conn_id, ADDRESS.dag_id, ADDRESS.run_id, ADDRESS.task_id, 0)
    name, _ = _signed()
    _, for_other = _signed(other)
    assert verify(name, for_other, SECRET) is False


def test_an_empty_secret_verifies_nothing() -> None:
    name, signed_with_nothing = _signed(secret="")
    assert verify(name, signed_with_nothing, "") is False
    assert verify(name, signature_for(name, SECRET), "") is False


def test_an_empty_name_or_signature_verifies_nothing() -> None:
    name, signature = _signed()
    assert verify(name, "", SECRET) is False
    assert verify("", signature, SECRET) is False
    assert verify("", signature_for("", SECRET), SECRET) is False


def test_every_changed_character_of_the_name_fails() -> None:
    name, signature = _signed()
    for position in range(len(name)):
        for replacement in ALPHABET.replace(name[position], ""):
            changed = name[:position] + replacement + name[position + 1 :]
            assert verify(changed, signature, SECRET) is False, (position, replacement)


def test_a_changed_character_of_the_signature_fails() -> None:
    """Every position but the last (see the next test): one flipped character, any of the alphabet, fails."""
    name, signature = _signed()
    for position in range(len(signature) - 1):
        for replacement in ALPHABET.replace(signature[position], ""):
            changed = signature[:position] + replacement + signature[position + 1 :]
            assert verify(name, changed, SECRET) is False, (position, replacement)


def test_no_other_spelling_of_the_signature_verifies() -> None:
    name, signature = _signed()
    spellings = {signature[:-1] + c for c in ALPHABET if c != signature[-1]} | {signature + "=", signature + "=="}
    assert sorted(s for s in spellings if verify(name, s, SECRET)) == []


def test_a_truncated_or_extended_signature_fails() -> None:
    name, signature = _signed()
    for changed in (signature[:-1], signature[:-4], signature[1:], signature + "A", signature + "AAAA", signature * 2):
        assert verify(name, changed, SECRET) is False, changed


@pytest.mark.parametrize("signature", ["!!!", "%%%%", "\x00", "é", "a b", "A" * 5000, "=", "====", ".", "A", "AB=CD"])
def test_a_garbage_signature_verifies_false_without_raising(signature: str) -> None:
    name, _ = _signed()
    assert verify(name, signature, SECRET) is False


@pytest.mark.parametrize(
    "name",
    ["", "!!!", "%%%%", "\x00", "é", "no-such-name", "A" * 5000, "WyJhIl0", "e30", "=", "a.b", "ab=cd"],
)
def test_a_garbage_name_reads_as_none_and_verifies_false(name: str) -> None:
    assert read_address(name) is None
    assert verify(name, signature_for(ADDRESS.conn_id, SECRET), SECRET) is False


@pytest.mark.parametrize(
    "document",
    [
        b"5",
        b'"abcde"',  # five characters unpack into five fields: still not an address
        b'{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}',
        b'["a", "b", "c", "d"]',
        b'["a", "b", "c", "d", -1, 2]',
        b'["a", "b", "c", "d", "-1"]',
        b'["a", "b", "c", "d", 1.0]',
        b'["a", "b", "c", "d", true]',
        b'["a", "b", "c", "", -1]',
        b'["a", 2, "c", "d", -1]',
        b'["a", "b", "c", "d", null]',
        b"\xff\xfe\xfd",
        b"not json",
        b"NaN",
    ],
)
def test_a_name_that_is_no_address_reads_as_none(document: bytes) -> None:
    assert read_address(_b64(document)) is None


def test_a_deeply_nested_name_reads_as_none() -> None:
    assert read_address(_b64(b"[" * 1000)) is None


# ----- the URL ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url", ["https://airflow.example.com", "https://airflow.example.com/", "http://127.0.0.1:8080/airflow/"]
)
def test_the_callback_url_is_the_base_the_receivers_path_the_name_and_the_token(base_url: str) -> None:
    name, signature = _signed()
    url = callback_url(base_url, ADDRESS, SECRET)
    assert PATH == "/videotask/callbacks/"
    assert url == f"{base_url.rstrip('/')}/videotask/callbacks/{name}?token={signature}"
    assert "//videotask" not in url


def test_the_signature_is_only_in_the_token_query_parameter() -> None:
    """Airflow 3.3's access log writes a ``token`` query parameter as ``***``: nothing of it is in the path."""
    url = urlsplit(callback_url("https://airflow.example.com", ADDRESS, SECRET))
    _, signature = _signed()
    assert signature not in url.path
    assert parse_qs(url.query) == {"token": [signature]}
    name = url.path.rsplit("/", 1)[1]
    assert read_address(name) == ADDRESS
    assert verify(name, parse_qs(url.query)["token"][0], SECRET)
    assert SECRET not in url.geturl()


# ----- the connection's extras --------------------------------------------------------------------------


def _config(**extras: Any) -> CallbackConfig | None:
    return callback_config(extras.get, "acedatacloud_default")


def _refusal(**extras: Any) -> str:
    with pytest.raises(VideoTaskValidationError) as raised:
        _config(**extras)
    return str(raised.value)


def test_no_callback_extras_means_no_callbacks() -> None:
    assert _config() is None
    assert _config(callback_fallback_interval="60") is None  # a fallback alone switches nothing on


def test_both_extras_make_a_config_with_the_default_fallback() -> None:
    config = _config(callback_base_url="https://airflow.example.com", callback_secret=SECRET)
    assert config == CallbackConfig("https://airflow.example.com", SECRET, 300.0)
    assert config is not None
    assert config.fallback_interval == 300.0  # the default
    assert SECRET not in repr(config)


def test_a_fallback_interval_in_text_is_read_as_seconds() -> None:
    config = _config(callback_base_url="http://airflow:8080", callback_secret=SECRET, callback_fallback_interval="120")
    assert config is not None
    assert config.fallback_interval == 120.0
    assert isinstance(config.fallback_interval, float)
    config = _config(callback_base_url="http://airflow:8080", callback_secret=SECRET, callback_fallback_interval=1)
    assert config is not None
    assert config.fallback_interval == 1.0  # the least it takes


@pytest.mark.parametrize(
    "base_url", [None, "", "airflow.example.com", "ftp://airflow.example.com", 8080, ["https://a"]]
)
def test_a_missing_or_non_http_base_url_is_refused_naming_it(base_url: Any) -> None:
    message = _refusal(callback_base_url=base_url, callback_secret=SECRET)
    assert "callback_base_url" in message
    assert "acedatacloud_default" in message
    assert SECRET not in message


@pytest.mark.parametrize("secret", [None, "", "short", "x" * 15, 1234567890123456789])
def test_a_missing_or_short_secret_is_refused_naming_it(secret: Any) -> None:
    message = _refusal(callback_base_url="https://airflow.example.com", callback_secret=secret)
    assert "callback_secret" in message
    assert "16" in message
    if isinstance(secret, str) and secret:
        assert secret not in message  # the message names the extra, never its value


def test_a_secret_of_sixteen_characters_is_enough() -> None:
    config = _config(callback_base_url="https://airflow.example.com", callback_secret="x" * 16)
    assert config is not None
    assert config.secret == "x" * 16


@pytest.mark.parametrize(
    "fallback", [0, -1, "abc", True, False, "0", "-5", 0.5, "0.99", "nan", "inf", float("inf"), [], {}]
)
def test_a_bad_fallback_interval_is_refused_naming_it(fallback: Any) -> None:
    message = _refusal(
        callback_base_url="https://airflow.example.com", callback_secret=SECRET, callback_fallback_interval=fallback
    )
    assert "callback_fallback_interval" in message
    assert SECRET not in message
