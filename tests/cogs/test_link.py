from __future__ import annotations

from db import links
from tests.fakes.coc_api import make_player
from tests.harness import MANAGE_GUILD, Harness, opt

TAG = "#2PP0JCCL"


async def _link_of(h: Harness, tag: str):  # type: ignore[no-untyped-def]
    async with h.pool.acquire() as con:
        return await links.get_link(con, tag)


async def test_link_without_token_is_unverified_and_tracks(harness: Harness) -> None:
    harness.coc.set_player(make_player(TAG, name="Chief"))
    reply = await harness.run("link", opt("tag", TAG.lower()), user_id=7)
    assert (
        reply.ephemeral and "Linked **Chief**" in reply.content and "not verified" in reply.content
    )
    link = await _link_of(harness, TAG)
    assert link["user_id"] == 7 and not link["verified"]
    listing = await harness.run("track", {"type": 1, "name": "list", "options": []})
    assert TAG in listing.embeds[0]["description"]


async def test_link_with_a_valid_token_is_verified(harness: Harness) -> None:
    harness.coc.set_player(make_player(TAG))
    harness.coc.set_token_valid(TAG, "good-token")
    reply = await harness.run("link", opt("tag", TAG), opt("token", "good-token"), user_id=7)
    assert "verified" in reply.content and "not verified" not in reply.content
    assert (await _link_of(harness, TAG))["verified"]


async def test_a_wrong_token_is_refused_and_nothing_is_stored(harness: Harness) -> None:
    harness.coc.set_player(make_player(TAG))
    harness.coc.set_token_valid(TAG, "good-token")
    reply = await harness.run("link", opt("tag", TAG), opt("token", "bad-token"), user_id=7)
    assert reply.ephemeral and "does not belong" in reply.content
    assert await _link_of(harness, TAG) is None


async def test_someone_elses_account_needs_a_token_to_take_over(harness: Harness) -> None:
    harness.coc.set_player(make_player(TAG))
    harness.coc.set_token_valid(TAG, "good-token")
    await harness.run("link", opt("tag", TAG), user_id=7)
    refused = await harness.run("link", opt("tag", TAG), user_id=8)
    assert "linked to another user" in refused.content
    assert (await _link_of(harness, TAG))["user_id"] == 7
    wrong = await harness.run("link", opt("tag", TAG), opt("token", "nope"), user_id=8)
    assert "does not belong" in wrong.content
    taken = await harness.run("link", opt("tag", TAG), opt("token", "good-token"), user_id=8)
    assert "Linked" in taken.content
    link = await _link_of(harness, TAG)
    assert link["user_id"] == 8 and link["verified"]


async def test_a_guild_can_require_verified_links(harness: Harness) -> None:
    harness.coc.set_player(make_player(TAG))
    refused = await harness.run("link-settings", opt("require_verified", True, type=5))
    assert "Manage Server" in refused.content
    ok = await harness.run(
        "link-settings", opt("require_verified", True, type=5), permissions=MANAGE_GUILD
    )
    assert "only verified links" in ok.content
    reply = await harness.run("link", opt("tag", TAG), user_id=7)
    assert "only accepts verified links" in reply.content
    assert await _link_of(harness, TAG) is None


async def test_only_the_owner_unlinks(harness: Harness) -> None:
    harness.coc.set_player(make_player(TAG))
    await harness.run("link", opt("tag", TAG), user_id=7)
    refused = await harness.run("unlink", opt("tag", TAG), user_id=8)
    assert refused.ephemeral and "only they can unlink" in refused.content
    assert await _link_of(harness, TAG) is not None
    done = await harness.run("unlink", opt("tag", TAG), user_id=7)
    assert "Unlinked" in done.content
    assert await _link_of(harness, TAG) is None
    again = await harness.run("unlink", opt("tag", TAG), user_id=7)
    assert "not linked" in again.content


async def test_accounts_lists_links_with_verified_marked(harness: Harness) -> None:
    harness.coc.set_player(make_player(TAG, name="Main"))
    harness.coc.set_player(make_player("#8YUCG2L", name="Mini"))
    harness.coc.set_token_valid(TAG, "t")
    await harness.run("link", opt("tag", TAG), opt("token", "t"), user_id=7)
    await harness.run("link", opt("tag", "#8YUCG2L"), user_id=7)
    resolved = {
        "users": {
            "7": {
                "id": "7",
                "username": "seven",
                "discriminator": "0",
                "global_name": "Seven",
                "avatar": None,
            }
        }
    }
    reply = await harness.run("accounts", opt("user", "7", type=6), user_id=9, resolved=resolved)
    assert reply.embeds[0]["title"] == "Accounts of Seven"
    bare = await harness.run("accounts", opt("user", "7", type=6), user_id=9)
    assert bare.embeds[0]["title"] == "Accounts of 7"
    text = reply.embeds[0]["description"]
    assert "**Main** `#2PP0JCCL`" in text and "✅" in text.split("\n")[0]
    assert "**Mini** `#8YUCG2L`" in text and "✅" not in text.split("\n")[1]
    mine = await harness.run("accounts", user_id=9)
    assert "no linked accounts" in mine.content


async def test_link_limit_per_user(harness: Harness) -> None:
    async with harness.pool.acquire() as con:
        for i in range(20):
            await links.save_link(con, f"#{'2' * 3}{'PYLQGRJCUV'[i % 10]}{'89'[i // 10]}", 7, False)
    harness.coc.set_player(make_player(TAG))
    reply = await harness.run("link", opt("tag", TAG), user_id=7)
    assert "20 linked accounts" in reply.content
    assert await _link_of(harness, TAG) is None
