"""Settings every test directory shares."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# Property tests check behaviour, never speed: on a loaded 2-core CI machine an example can take longer
# than Hypothesis' default 200 ms deadline without anything being wrong (speed is `make bench`'s).
settings.register_profile("smsdesk", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("smsdesk")
