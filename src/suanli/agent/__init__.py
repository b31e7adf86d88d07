"""The site agent: offers a site's pools to the network and runs what it is given on the site's engine.

Import from the submodules (`suanli.agent.runtime`, `suanli.agent.pools`, `suanli.agent.backends.*`):
this package stays empty on purpose, because the per-job shim (`backends/local_shim.py`) is started
with `python -m` and every import here would slow down the start of every job.
"""
