"""Opt-outs per channel and address, for members and strangers alike."""
