"""Pages of embeds with Previous/Next buttons that only the invoker may press."""

from __future__ import annotations

import logging
from collections.abc import Callable

import discord

log = logging.getLogger(__name__)


class PageView(discord.ui.View):
    """Renders page ``i`` on demand; disables its buttons after the timeout."""

    def __init__(
        self,
        render: Callable[[int], discord.Embed],
        count: int,
        owner_id: int,
        *,
        timeout: float = 180.0,
        refusal: str = "Only the person who ran this command can turn its pages.",
        id_prefix: str = "pages",
    ) -> None:
        super().__init__(timeout=timeout)
        self.previous_page.custom_id = f"{id_prefix}:prev"
        self.next_page.custom_id = f"{id_prefix}:next"
        self.render = render
        self.count = count
        self.owner_id = owner_id
        self.refusal = refusal
        self.index = 0
        self.message: discord.Message | discord.WebhookMessage | None = None
        self._sync()

    def _sync(self) -> None:
        self.previous_page.disabled = self.index == 0
        self.next_page.disabled = self.index >= self.count - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(self.refusal, ephemeral=True)
        return False

    async def _show(self, interaction: discord.Interaction, index: int) -> None:
        self.index = max(0, min(index, self.count - 1))
        self._sync()
        await interaction.response.edit_message(embed=self.render(self.index), view=self)

    @discord.ui.button(label="Previous", emoji="◀", custom_id="pages:prev")
    async def previous_page(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._show(interaction, self.index - 1)

    @discord.ui.button(label="Next", emoji="▶", custom_id="pages:next")
    async def next_page(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._show(interaction, self.index + 1)

    async def on_timeout(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        if self.message is None:
            return
        try:
            await self.message.edit(view=self)
        except discord.HTTPException as exc:
            # A deleted message or an expired token: the buttons are dead either way.
            log.info("could not disable page buttons: %s", exc)


async def send_pages(
    interaction: discord.Interaction,
    render: Callable[[int], discord.Embed],
    count: int,
    *,
    view_timeout: float = 180.0,
    ephemeral: bool = False,
    refusal: str | None = None,
    id_prefix: str = "pages",
) -> None:
    """Send page 0 (after a defer), with buttons only when there is more than one page."""
    if count <= 1:
        await interaction.followup.send(embed=render(0), ephemeral=ephemeral)
        return
    view = PageView(
        render,
        count,
        interaction.user.id,
        timeout=view_timeout,
        id_prefix=id_prefix,
        **({"refusal": refusal} if refusal else {}),
    )
    view.message = await interaction.followup.send(
        embed=render(0), view=view, ephemeral=ephemeral, wait=True
    )
