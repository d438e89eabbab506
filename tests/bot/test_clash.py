"""The Clash of Clans client wrapper against the fake API, with the real coc.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.clash import MAX_REKEYS_PER_MINUTE, ClashApi
from bot.errors import ApiAccessDenied, ApiUnavailable, PlayerNotFound
from bot.settings import load_settings
from tests.fakes.coc_api import FakeCocApi, make_player

TAG = "#2PP0JCCL"


@pytest.fixture
async def api() -> AsyncIterator[FakeCocApi]:
    fake = FakeCocApi(tokens=("test-token",))
    await fake.start()
    yield fake
    await fake.stop()


async def _client(api: FakeCocApi) -> ClashApi:
    clash = ClashApi(
        load_settings(
            {"DISCORD_TOKEN": "x", "COC_TOKENS": "test-token", "COC_API_BASE_URL": api.base_url}
        )
    )
    await clash.start()
    return clash


async def test_the_rekeying_loop_after_an_ip_change_is_stopped(api: FakeCocApi) -> None:
    """coc.py re-keys on every ``accessDenied.invalidIp`` and retries forever (coc.py 4.0).

    The developer-site log-in is hard-coded to the internet, so only it is replaced
    here; coc.py's request loop runs for real against the fake API.
    """
    clash = await _client(api)
    http = clash.client.http
    http.email, http.password = "ops@example.org", "secret"  # as an email log-in has
    rekeys = 0

    async def developer_site_login() -> None:
        nonlocal rekeys
        rekeys += 1

    http.initialise_keys = developer_site_login
    clash._guard_rekeying(clash.client)
    first_client = clash.client
    api.set_player(make_player(TAG))
    api.fail(TAG, 403, "accessDenied.invalidIp")
    with pytest.raises(ApiAccessDenied) as info:
        await clash.get_player(TAG, fresh=True)
    assert info.value.reason == "accessDenied.invalidIp"
    assert rekeys == MAX_REKEYS_PER_MINUTE  # then the guard stopped it
    assert api.count(TAG) == MAX_REKEYS_PER_MINUTE + 1
    # A fresh client was built and works once the key is valid again.
    assert clash.client is not first_client
    api.fail(TAG, None)
    assert (await clash.get_player(TAG, fresh=True))["tag"] == TAG
    await clash.close()


async def test_errors_become_domain_errors(api: FakeCocApi) -> None:
    clash = await _client(api)
    try:
        with pytest.raises(PlayerNotFound):
            await clash.get_player(TAG)
        api.set_player(make_player(TAG))
        api.set_garbage(TAG, "truncated")
        with pytest.raises(ApiUnavailable):
            await clash.get_player(TAG, fresh=True)
        api.set_garbage(TAG, None)
        api.set_delay(0.5)
        with pytest.raises(ApiUnavailable):
            await clash.get_player(TAG, fresh=True, deadline=0.1)
    finally:
        await clash.close()


async def test_a_bad_token_is_access_denied(api: FakeCocApi) -> None:
    clash = ClashApi(
        load_settings(
            {"DISCORD_TOKEN": "x", "COC_TOKENS": "wrong", "COC_API_BASE_URL": api.base_url}
        )
    )
    await clash.start()
    try:
        with pytest.raises(ApiAccessDenied):
            await clash.get_player(TAG)
    finally:
        await clash.close()
