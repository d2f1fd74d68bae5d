"""The platform seen from calibration stations and benches.

- :mod:`~labctl.platform.stations.seam`: the one station seam — where a run's register comes
  from and where its result goes (this database, a remote platform, a snapshot file);
- :mod:`~labctl.platform.stations.register`: the runner's register of standards backed by the
  platform's database;
- :mod:`~labctl.platform.stations.drafts`: a finished run → a draft certificate and its points;
- :mod:`~labctl.platform.stations.benches`: benches the server drives itself (remote runs).
"""
