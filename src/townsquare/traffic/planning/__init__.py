"""Planning: forecast supply, solve the allocation (min-cost flow), store the plan and hold it in
memory for serving; the plans JSON API."""
