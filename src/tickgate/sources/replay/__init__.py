"""Replay: tickgate recordings, Databento DBN and CSV tick files played in as a `DataSource`."""
