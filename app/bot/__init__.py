"""The channel-free command engine: a ``Message`` in, a ``Reply`` out.

SMS, WeChat and the simulator are thin adapters around ``engine.handle_message``.
"""
