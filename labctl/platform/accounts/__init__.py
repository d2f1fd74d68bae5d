"""Who people and stations are, and what they may do.

- :mod:`~labctl.platform.accounts.auth`: principals, passwords, tokens, the login throttle;
- :mod:`~labctl.platform.accounts.organisations`: organisations, users, roles, stations,
  authorisations for quantities and procedures;
- :mod:`~labctl.platform.accounts.policy`: the one place that decides who may act on what
  (roles, separation of duties, organisation boundaries), called before the first write.
"""
