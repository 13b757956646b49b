"""The programme's rules: earning and discounts (engine), their JSON (io), levels, referral."""
