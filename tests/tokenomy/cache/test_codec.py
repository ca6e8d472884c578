"""Entries are data: the codec round-trips, signs, and refuses anything else."""

import base64
import json
import math

import numpy as np
import pytest

from tokenomy.cache.codec import SCHEMA_VERSION, decode_entry, encode_entry, signing_key
from tokenomy.cache.entry import CacheEntry
from tokenomy.errors import CacheEntryError, ConfigError

KEY = b"k" * 32


def entry(**kw):
    base = dict(
        id="ab12",
        partition="p",
        context="c",
        query="Is it \ud800 safe?",  # a lone surrogate round-trips too
        vector=np.array([0.6, 0.8], dtype=np.float32),
        payload='{"text": "Yes."}',
        model="gpt-4o",
        input_tokens=12,
        output_tokens=3,
        created_at=1_800_000_000.25,
        expires_at=None,
    )
    base.update(kw)
    return CacheEntry(**base)


@pytest.mark.parametrize("key", [None, KEY])
def test_round_trip_keeps_every_field(key):
    e = entry(expires_at=1_800_000_100.5)
    back = decode_entry(encode_entry(e, key=key), entry_id="ab12", key=key)
    assert back.vector.tolist() == e.vector.tolist()
    assert (back.query, back.payload, back.created_at, back.expires_at) == (
        e.query,
        e.payload,
        e.created_at,
        e.expires_at,
    )
    assert (back.model, back.input_tokens, back.output_tokens) == ("gpt-4o", 12, 3)


def doc(**changes):
    d = json.loads(encode_entry(entry(), key=None))
    d.update(changes)
    return json.dumps(d).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x80\x04\x95pickle", "undecodable"),
        (b"not json", "undecodable"),
        (b"[1, 2]", "undecodable"),
        (b"[" * 100_000 + b"]" * 100_000, "undecodable"),
        (12, "undecodable"),
        (doc(v=2), "unsupported schema"),
        (doc(v=None), "unsupported schema"),
        (doc(payload=5), "invalid"),
        (doc(query=["x"]), "invalid"),
        (doc(id="other"), "invalid"),
        (doc(input_tokens=-1), "invalid"),
        (doc(input_tokens=True), "invalid"),
        (doc(output_tokens=10**40), "invalid"),
        (doc().replace(b'"output_tokens": 3', b'"output_tokens": ' + b"9" * 5000), "undecodable"),
        (doc(created_at="yesterday"), "invalid"),
        (doc(created_at=1e308 * 10), "undecodable"),
        (doc(expires_at=10**400), "invalid"),
        (doc(vector="***"), "invalid"),
        (doc(vector=base64.b64encode(b"abc").decode()), "invalid"),
        (doc(vector=base64.b64encode(np.array([math.nan], "<f4").tobytes()).decode()), "invalid"),
        (doc().replace(b'"created_at": 1800000000.25', b'"created_at": NaN'), "undecodable"),
    ],
)
def test_anything_but_a_valid_entry_is_refused_with_a_reason(raw, reason):
    with pytest.raises(CacheEntryError) as info:
        decode_entry(raw, entry_id="ab12", key=None)
    assert info.value.reason == reason


def test_a_signed_store_refuses_unsigned_forged_and_replayed_entries():
    good = encode_entry(entry(), key=KEY)
    assert decode_entry(good, entry_id="ab12", key=KEY).payload == '{"text": "Yes."}'
    with pytest.raises(CacheEntryError, match="unsigned"):
        decode_entry(encode_entry(entry(), key=None), entry_id="ab12", key=KEY)
    with pytest.raises(CacheEntryError, match="bad signature"):
        decode_entry(encode_entry(entry(), key=b"x" * 32), entry_id="ab12", key=KEY)
    forged = json.loads(good)
    forged["payload"] = "Send your password to evil.example"
    with pytest.raises(CacheEntryError, match="bad signature"):
        decode_entry(json.dumps(forged).encode(), entry_id="ab12", key=KEY)
    moved = json.loads(good)
    moved["id"] = "cd34"  # a valid entry moved under another question's id
    with pytest.raises(CacheEntryError, match="bad signature"):
        decode_entry(json.dumps(moved).encode(), entry_id="cd34", key=KEY)
    longer = json.loads(good)
    longer["expires_at"] = 4e9  # a lifetime extended
    with pytest.raises(CacheEntryError, match="bad signature"):
        decode_entry(json.dumps(longer).encode(), entry_id="ab12", key=KEY)


def test_signing_keys_are_long_enough():
    assert signing_key(None) is None and signing_key("") is None
    assert signing_key("s" * 16) == b"s" * 16
    with pytest.raises(ConfigError, match="at least 16"):
        signing_key("short")


def test_schema_version_is_written():
    assert json.loads(encode_entry(entry(), key=None))["v"] == SCHEMA_VERSION
