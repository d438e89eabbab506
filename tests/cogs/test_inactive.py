"""/inactive through the fake Discord and the fake API."""

from __future__ import annotations

from tests.cogs.activity_helpers import CLAN, member, poll, publish, track_clan
from tests.harness import Harness, opt

ANN, BOB, CID = "#8QQ", "#8RR", "#8UU"


async def test_who_has_not_played_and_by_what_the_others_were_last_seen(
    harness: Harness,
) -> None:
    await track_clan(harness)
    publish(
        harness,
        [
            member(ANN, "Ann", trophies=3000),
            member(BOB, "Bob", trophies=3000),
            member(CID, "Cid", trophies=3000),
        ],
    )
    await poll(harness)  # baselines: nobody seen active yet
    publish(
        harness,
        [
            member(ANN, "Ann", trophies=3030, attack_wins=1),  # attacked
            member(BOB, "Bob", trophies=2980),  # lost a defense: no sign of play
            member(CID, "Cid", trophies=3000, donations=12),  # donated
        ],
    )
    await poll(harness)
    # Cid's last sign of play was long ago.
    async with harness.pool.acquire() as con:
        await con.execute(
            "UPDATE players SET last_active_at = now() - interval '12 days' WHERE tag = $1", CID
        )
    reply = await harness.run("inactive")
    embed = reply.embeds[0]
    assert embed["title"] == "Inactive for 7+ day(s)"
    lines = embed["description"].splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("`  1.` Cid (#8UU) — last active <t:")
    assert lines[0].endswith(": donated")
    assert lines[1].startswith("`  2.` Bob (#8RR) — not seen active since tracking began (<t:")
    assert "2 of 3 tracked players" in embed["footer"]["text"]

    reply = await harness.run("inactive", opt("days", 30, 4), opt("clan", CLAN))
    lines = reply.embeds[0]["description"].splitlines()
    assert [line.split(" — ")[0] for line in lines] == ["`  1.` Bob (#8RR)"]
    assert reply.embeds[0]["title"] == "Inactive for 30+ day(s) in Our Clan (#2PP)"


async def test_nobody_tracked_and_everybody_active(harness: Harness) -> None:
    reply = await harness.run("inactive")
    assert reply.ephemeral and "tracks no players yet" in reply.content
    await track_clan(harness)
    publish(harness, [member(ANN, "Ann", trophies=3000)])
    await poll(harness)
    publish(harness, [member(ANN, "Ann", trophies=3000, exp_level=151)])
    await poll(harness)
    reply = await harness.run("inactive")
    assert "showed a sign of play in the last 7 day(s)" in reply.embeds[0]["description"]


async def test_days_out_of_bounds_is_refused(harness: Harness) -> None:
    reply = await harness.run("inactive", opt("days", 0, 4))
    assert reply.ephemeral and "from 1 to 365" in reply.content
