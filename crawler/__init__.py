"""crawler: an asyncio link crawler, and a tool that measures what async buys."""

__version__ = "0.1.0"
