"""Microsoft Bot Framework Direct Line 3.0 under /v3/directline, so that Web Chat and directlinejs work unchanged.

The contract is the clients' own wire format (their sources are the judge); everything here calls the
same services as the other protocols: a Direct Line token is a botportal session token, a Direct Line
conversation an ordinary conversation, and activities are its messages rendered in the activity schema.
"""
