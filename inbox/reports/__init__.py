"""Reports for owners and admins: rollups kept by a periodic task (`rollup`), read by `selectors`.

Business hours (`hours`) decide which time counts when a business asks for times within its hours.
"""
