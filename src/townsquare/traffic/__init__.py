"""Traffic distribution: surfaces, support kinds, paid exposure and the allocation plan."""
