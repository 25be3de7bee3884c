"""Serving: fill a surface's slots (candidates, guaranteed, sponsored, organic), cache what serving
reads, record exposures and clicks; the feed API and resident pages."""
