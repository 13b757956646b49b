"""Gifts for points and coupons: a checkout uses coupons, so they live beside the ledger."""
