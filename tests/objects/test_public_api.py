from __future__ import annotations

import shipyard.objects


def test_public_api_is_exactly_all_and_sorted():
    exported = shipyard.objects.__all__
    assert exported == sorted(exported)
    for name in exported:
        assert getattr(shipyard.objects, name) is not None
    public = {n for n in vars(shipyard.objects) if not n.startswith("_")} - {"annotations"}
    assert public == set(exported)
