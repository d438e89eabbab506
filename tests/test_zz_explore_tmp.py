import logging
from tests.harness import GUILD_ID, MANAGE_GUILD, ADMINISTRATOR, opt, sub
from tests.fakes.coc_api import make_player, make_clan

CASES = [
  ("history", [opt("tag","#2PP0JCCL"), opt("stat","trophies"), opt("days", 10**20, 4)], {}),
  ("history", [opt("tag","#2PP0JCCL"), opt("stat","trophies"), opt("days", -5, 4)], {}),
  ("history", [opt("tag","#2PP0JCCL"), opt("stat","nope'; DROP"), opt("days", 5, 4)], {}),
  ("progress", [opt("tag","#2PP0JCCL"), opt("days", 0, 4)], {}),
  ("progress", [opt("tag","#2PP0JCCL"), opt("days", 2**63, 4)], {}),
  ("accounts", [opt("user","999999", 6)], {}),
  ("accounts", [opt("user","999999", 6)], {"resolved": {"users": {"999999": {"id":"999999","username":"@everyone","discriminator":"0","global_name":"<@&5000>","avatar":None}}}}),
  ("player", [opt("tag","#2PP\x00JCCL")], {}),
  ("player", [opt("tag","#2PP0JCCL")], {}),
  ("link", [opt("tag","#2PP0JCCL"), opt("token","a\x00b")], {}),
  ("feed", [sub("set", opt("channel","123456", 7))], {"permissions": MANAGE_GUILD}),
  ("feed", [sub("set", opt("channel","123456", 7))], {"permissions": MANAGE_GUILD, "resolved": {"channels": {"123456": {"id":"123456","name":"x","type":0,"permissions":"0","parent_id":None,"flags":0}}}}),
  ("feed", [sub("set", opt("channel","7001", 7))], {"permissions": MANAGE_GUILD, "resolved": {"channels": {"7001": {"id":"7001","name":"x","type":0,"permissions":"0","parent_id":None,"flags":0}}}}),
  ("feed", [sub("set", opt("channel","5001", 7), opt("events", "@everyone\x00"))], {"permissions": MANAGE_GUILD, "resolved": {"channels": {"5001": {"id":"5001","name":"x","type":0,"permissions":"0","parent_id":None,"flags":0}}}}),
  ("feed", [sub("show")], {"permissions": ADMINISTRATOR}),
  ("feed", [sub("show")], {"permissions": MANAGE_GUILD, "guild_id": None}),
  ("link-settings", [opt("require_verified", "yes", 5)], {"permissions": MANAGE_GUILD}),
  ("leaderboard", [opt("stat","trophies"), opt("period", "forever")], {}),
  ("track", [sub("add", opt("tag", "x"*5000))], {"permissions": MANAGE_GUILD}),
  ("track", [sub("list")], {"guild_id": None}),
  ("status", [], {"guild_id": None}),
]

async def test_explore(harness, caplog):
    caplog.set_level(logging.INFO)
    harness.coc.set_player(make_player("#2PP0JCCL", name="@everyone <@&5000>"))
    harness.discord.add_guild(7000, channels=[{"id": 7001, "name": "other"}])
    for name, options, who in CASES:
        caplog.clear()
        it = await harness.send(name, *options, **who)
        try:
            r = await it.wait_response(timeout=5)
            print(name, options[:3] if len(str(options))<300 else "...", "->", it.callback_types, round(it.ack_latency,3), repr(r.content)[:200], [e.get("title") for e in r.embeds], r.allowed_mentions)
        except TimeoutError as e:
            print(name, "TIMEOUT", it.callback_types)
        for rec in caplog.records:
            if rec.levelno >= logging.WARNING:
                print("   LOG", rec.levelname, rec.name, rec.getMessage()[:200], bool(rec.exc_info))
    async with harness.pool.acquire() as con:
        print(await con.fetch("select * from feeds"))
