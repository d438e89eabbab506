"""``/roles show``: what is mapped, what is skipped and why, and where the sync stands."""

from __future__ import annotations

import discord

from bot.embeds import literal, timestamp
from bot.roles.member_sync import GuildPlan, Outcome
from bot.roles.values import shown
from db.model import RoleConfig
from db.roles import PassState

# Room left in the description for the lines that do not fit.
DESCRIPTION_ROOM = 3800


def mapping_lines(config: RoleConfig, gplan: GuildPlan) -> list[str]:
    lines = []
    for m in config.mappings:
        line = f"**{literal(shown(m.kind, m.value))}** → <@&{m.role_id}>"
        problem = gplan.skipped.get(m.role_id)
        if problem:
            line += f"\n  ⚠️ skipped: {problem}"
        lines.append(line)
    return lines


def roles_embed(
    config: RoleConfig, gplan: GuildPlan, state: PassState | None, owner_id: int | None
) -> discord.Embed:
    embed = discord.Embed(title="Roles and nicknames", colour=discord.Colour.blue())
    lines = mapping_lines(config, gplan)
    text, count = "", 0
    for line in lines:
        if len(text) + len(line) + 1 > DESCRIPTION_ROOM:
            break
        text += line + "\n"
        count += 1
    if count < len(lines):
        text += f"… and {len(lines) - count} more mapping(s)."
    embed.description = text or "No role is mapped. Map one with `/roles map`."
    if config.nickname_format:
        value = f"`{literal(config.nickname_format)}`"
        if gplan.nickname_problem:
            value += f"\n⚠️ skipped: {gplan.nickname_problem}"
        if config.owner_noted and owner_id is not None:
            value += f"\nThe server owner (<@{owner_id}>) cannot be renamed by a bot: skipped."
        embed.add_field(name="Nicknames", value=value[:1024], inline=False)
    else:
        embed.add_field(name="Nicknames", value="Not changed (`/nickname set` to start).")
    if state is not None:
        parts = [f"next full pass {timestamp(state.next_pass_at)}"]
        if state.last_pass_at is not None:
            parts.insert(0, f"last full pass {timestamp(state.last_pass_at)}")
        if state.queued:
            parts.append(f"{state.queued} member(s) waiting")
        embed.add_field(name="Sync", value=", ".join(parts), inline=False)
    embed.set_footer(text="Only mapped roles are added or removed; other roles are left alone.")
    return embed


def outcome_text(outcome: Outcome) -> str:
    if not outcome.calls and not outcome.refused and not outcome.owner_skipped:
        return "Already in sync: nothing to change."
    parts = []
    if outcome.added:
        parts.append(f"{outcome.added} role(s) added")
    if outcome.removed:
        parts.append(f"{outcome.removed} role(s) removed")
    if outcome.renamed:
        parts.append("nickname changed")
    if outcome.refused:
        refused = ", ".join(f"<@&{r}>" for r in outcome.refused)
        parts.append(f"Discord refused {refused}")
    if outcome.owner_skipped:
        parts.append("the server owner cannot be renamed by a bot")
    return "Synced: " + "; ".join(parts) + "."
