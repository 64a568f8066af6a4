"""Graph passes, run in order by `converter.pipeline`."""
