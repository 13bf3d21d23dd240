"""Fakes for the internet the tunnel scenario needs: cloudflared and the Telegram Bot API.

`cloudflared.py` and `telegram.py` are standalone, stdlib-only scripts (they run as child
processes, also inside a container built from the runtime image); `edges.py` and `bot_api.py`
are the harness side that installs, starts and drives them. Used by scenarios/tunnel.py and
the tunnel tests.
"""
