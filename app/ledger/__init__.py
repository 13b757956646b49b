"""The ledger: points, stored value and visits as a double-entry journal."""
