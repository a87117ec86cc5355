-- identity(prefix, fresh): the store's identity, a random id that says
-- "this is the data this talk has been using". The first instance to find
-- none writes `fresh` (a first start, or data kept by a cyoa from before
-- identities); every instance remembers what it found, and takes a later
-- answer of none or another id for lost data (see `lost` in common.lua).
local key = prefix .. 'identity'
local id = redis.call('GET', key)
if not id then
  redis.call('SET', key, ARGV[2])
  id = ARGV[2]
end
return id
