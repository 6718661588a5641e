"""Storage back ends of the frontier (:class:`~crawler.frontier.FrontierStore`): storage only.

=========  =========================================================  ==========================
back end   keeps                                                      for
=========  =========================================================  ==========================
memory     fingerprints and queues in RAM                             one run (the default)
sqlite     everything in ``DIR/state.sqlite3``                        a crawl resumed after a crash
redis      everything in a Redis server, with leases per worker      one crawl shared by many workers
=========  =========================================================  ==========================
"""
