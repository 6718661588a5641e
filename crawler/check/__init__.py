"""crawler check: a link checker that crawls. Its decisions are crawler.linkcheck (pure, asked by
the core); here are the report worked out from the records (report), its formats (formats) and
the command (command)."""
