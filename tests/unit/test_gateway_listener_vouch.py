"""The listener's vouching, shared by the gateway's credential and job-status caches."""

from gateway.listener_vouch import ListenerVouch


def test_vouches_only_within_the_staleness_bound_of_the_last_confirmation():
    vouch = ListenerVouch(stale_seconds=3.0)
    assert not vouch.vouches(0.0)  # never heard from
    vouch.caught_up(10.0)
    assert vouch.vouches(12.9)
    assert not vouch.vouches(13.1)
    vouch.caught_up(9.0)  # an older confirmation arriving late moves nothing back
    assert vouch.confirmed_at == 10.0


def test_covers_only_reads_begun_after_the_listener_started_reading_and_forgets_on_loss():
    vouch = ListenerVouch(stale_seconds=3.0)
    assert not vouch.covers(5.0)
    vouch.caught_up(10.0)
    vouch.caught_up(11.0)
    assert not vouch.covers(9.9)  # begun before: an event may have passed unseen
    assert vouch.covers(10.0)
    vouch.lost()
    assert not vouch.vouches(10.5) and not vouch.covers(10.5)
    vouch.caught_up(20.0)
    assert not vouch.covers(15.0) and vouch.covers(20.0)
