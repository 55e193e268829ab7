"""Everything that talks to (or pretends to be) the provincial 好差评 system.

payload   the wire record (`ProvincialRating`) and its published schema
mapping   one province's format as data, and `to_provincial(rating)`
signing   request signatures as configuration (HMAC-SHA256, MD5, SM3, …)
client    `ProvincialClient.send(rating) -> Receipt`, failures classified for the forwarder
stub      `ProvinceStub`, a loopback stand-in with fault knobs (imported on its own: it needs jsonschema)
"""
