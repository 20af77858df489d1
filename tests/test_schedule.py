"""The poll-interval policy, without a clock: adaptive, bounded, hints as a floor, jitter, stagger."""
import random
from datetime import UTC, datetime, timedelta

import pytest

from ingest.config import ScheduleConfig
from ingest.records import FeedState, FetchLog, Poll
from ingest.store.schedule import (
    FAILURE_WEIGHT,
    cache_hint,
    jittered,
    next_check,
    next_interval,
    plan_next_poll,
    stagger,
)

CFG = ScheduleConfig(min_interval=300, default_interval=900, max_interval=21600)


def test_new_items_shorten_repeats_lengthen_within_bounds():
    assert next_interval(CFG, None, ok=True, new_items=3) == 450  # from the default
    assert next_interval(CFG, 450, ok=True, new_items=1) == 300  # not under min_interval
    assert next_interval(CFG, 900, ok=True, new_items=0) == 1350
    assert next_interval(CFG, 20000, ok=True, new_items=0) == 21600  # not over max_interval
    # a busy day then a quiet one: down to the floor, then back up step by step
    interval, seen = None, []
    for new in [5, 5, 5, 0, 0, 0, 0]:
        interval = next_interval(CFG, interval, ok=True, new_items=new)
        seen.append(interval)
    assert seen[:3] == [450, 300, 300] and seen[3:] == [450, 675, 1012.5, 1518.75]


def test_failures_back_off_by_weight_but_never_disable():
    one = next_interval(CFG, 300, ok=False, failures=1)
    two = next_interval(CFG, 300, ok=False, failures=2)
    assert one == 1800 and two == 3600
    # a refusal (weight 4) backs off as much as four timeouts
    assert next_interval(CFG, 300, ok=False, failures=FAILURE_WEIGHT["refused"]) == \
        next_interval(CFG, 300, ok=False, failures=4 * FAILURE_WEIGHT["timeout"])
    # however many failures, the feed is polled again within max_interval
    assert next_interval(CFG, 300, ok=False, failures=10_000) == CFG.max_interval
    assert next_interval(CFG, 300, ok=False, failures=-1) >= CFG.min_interval


def test_server_hints_are_a_floor_capped_at_max_interval():
    assert next_interval(CFG, 300, ok=True, new_items=2, hint=3600) == 3600  # ttl beats "shorter"
    assert next_interval(CFG, 300, ok=True, new_items=2, hint=10) == 300  # a small hint changes nothing
    assert next_interval(CFG, 300, ok=True, hint=10 ** 9) == CFG.max_interval
    assert next_interval(CFG, 300, ok=False, failures=1, hint=7200) == 7200  # Retry-After on a failure


def test_plan_next_poll_counts_failures_and_honours_hints():
    cfg = ScheduleConfig(min_interval=5, default_interval=60, max_interval=600)
    t0 = datetime(2018, 6, 12, tzinfo=UTC)
    feed = FeedState(1, "http://a.test/feed", interval=10.0, failures=1.0)
    log = FetchLog(feed.url, "feed", "ok", t0)
    ok = plan_next_poll(cfg, feed, Poll(log, ok=True, new=3), t0, rng=random.Random(1))
    assert ok.failures == 0 and ok.interval == 5.0  # new items: 10 s halved, then the 5 s floor
    assert 5 <= (ok.next_poll_at - t0).total_seconds() <= 5.5
    failed = plan_next_poll(cfg, feed, Poll(log, ok=False, failure="refused", hint=120), t0)
    assert failed.failures == 1.0 + FAILURE_WEIGHT["refused"] and failed.interval == 600  # 60 * 2**5, capped
    hinted = plan_next_poll(cfg, feed, Poll(log, ok=True, hint=300), t0)
    assert hinted.interval == 300 and (hinted.next_poll_at - t0).total_seconds() >= 300


def test_recheck_decays_resets_and_stops():
    cfg = ScheduleConfig(recheck_after=1800, recheck_growth=1.5, recheck_max_age_days=1)
    first = datetime(2018, 6, 12, tzinfo=UTC)
    at, interval = next_check(cfg, first, first, None, changed=True)
    assert interval == 1800 and at == first + timedelta(seconds=1800)
    at2, interval2 = next_check(cfg, at, first, interval, changed=False)
    assert interval2 == 2700 and at2 == at + timedelta(seconds=2700)
    assert next_check(cfg, at2, first, interval2, changed=True)[1] == 1800  # an edit resets
    assert next_check(cfg, first + timedelta(hours=23), first, 7200, changed=False)[0] is None  # too old


@pytest.mark.parametrize("headers, expected", [
    ({"cache-control": "public, max-age=600"}, 600),
    ({"cache-control": "max-age=60, s-maxage=300"}, 300),
    ({"cache-control": 'max-age="120"'}, 120),
    ({"cache-control": "no-cache"}, None),
    ({"cache-control": "max-age=0"}, None),
    ({"expires": "Tue, 12 Jun 2018 01:10:00 GMT", "date": "Tue, 12 Jun 2018 01:00:00 GMT"}, 600),
    ({"expires": "0", "date": "Tue, 12 Jun 2018 01:00:00 GMT"}, None),
    ({}, None),
    (None, None),
])
def test_cache_hint(headers, expected):
    assert cache_hint(headers) == expected


def test_jitter_stays_within_bounds():
    rng = random.Random(4)
    values = [jittered(1000, rng=rng) for _ in range(500)]
    assert 900 <= min(values) < 950 and 1050 < max(values) <= 1100
    # never under the server's floor, never over max_interval
    assert all(jittered(1000, rng=rng, lo=1000, hi=1050) in _range(1000, 1050) for _ in range(200))


def _range(lo, hi):
    class R:
        def __contains__(self, x):
            return lo <= x <= hi
    return R()


def test_stagger_spreads_feeds_of_one_host():
    urls = ["http://a.test/1", "http://a.test/2", "http://b.test/1", "http://A.test/3", "http://c.test/1"]
    off = stagger(urls, 2.0, random.Random(1))
    # the first feed of each host starts at once; the others of a host are >= 2 s apart
    assert off["http://a.test/1"] == off["http://b.test/1"] == off["http://c.test/1"] == 0
    a = sorted([off["http://a.test/1"], off["http://a.test/2"], off["http://A.test/3"]])
    assert all(later - earlier >= 1.0 for earlier, later in zip(a, a[1:]))
    assert 2.0 <= off["http://a.test/2"] <= 3.0 and 4.0 <= off["http://A.test/3"] <= 5.0
