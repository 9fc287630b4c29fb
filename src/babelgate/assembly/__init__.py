"""The parts a gateway is assembled from (app.py lists them, in order): each starts, takes a new config and
stops itself, and holds what outlives one config (a pool, a store, a poller) for one gateway alone."""
