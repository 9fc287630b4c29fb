"""Response ids: unguessable, unique, and in creation order (so stores append to their key index)."""

from __future__ import annotations

import re
import time

from babelgate.frontends.responses import wire

RESPONSE_ID = re.compile(r"resp_[0-9a-f]{12}[0-9a-f]{32}")


def test_response_ids_carry_128_random_bits_after_the_time() -> None:
    ids = [wire.new_response_id() for _ in range(2_000)]
    assert all(RESPONSE_ID.fullmatch(response_id) for response_id in ids)
    assert len(set(ids)) == len(ids)
    assert len({response_id[-32:] for response_id in ids}) == len(ids)


def test_response_ids_sort_in_the_order_they_were_made() -> None:
    earlier = wire.new_response_id()
    time.sleep(0.002)
    later = wire.new_response_id()
    assert earlier < later


def test_the_time_in_a_response_id_is_the_creation_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    response_id = wire.new_response_id()
    after = time.time_ns() // 1_000_000
    assert before <= int(response_id.removeprefix("resp_")[:12], 16) <= after


def test_item_ids_stay_32_random_hex_digits_after_their_prefix() -> None:
    ids = [wire.new_id(wire.MESSAGE_PREFIX) for _ in range(600)]  # more than one block of random bytes
    assert all(re.fullmatch(r"msg_[0-9a-f]{32}", item_id) for item_id in ids)
    assert len(set(ids)) == len(ids)


def test_our_ids_tell_when_they_were_made_and_others_do_not() -> None:
    made = wire.response_created_at(wire.new_response_id())
    assert made is not None and abs(made - time.time()) < 1
    for foreign in ("resp_zz", "msg_0123456789ab", "resp_0123456789xz", "resp_"):
        assert wire.response_created_at(foreign) is None
