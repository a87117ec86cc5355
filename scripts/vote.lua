-- wrk script for cyoa's form vote: every request is a new voter (it sends
-- no cyoa_voter cookie, so cyoa mints one and counts the vote) for a random
-- choice of the bundled talk's first decision, opened beforehand.
--   wrk -t1 -c64 -d10s -s scripts/vote.lua http://127.0.0.1:8080
-- The `voter` cookie is not cyoa's; it is there so that the same script
-- drives servers that key voters on it, doing the same work.
math.randomseed(os.time())
local choices = {"tinder", "dachshund"}
request = function()
  local voter = string.format("%016x%016x", math.random(0, 2^31), math.random(0, 2^31))
  local body = "choice=" .. choices[math.random(1, 2)]
  return wrk.format("POST", "/vote/what-did-you-build",
    {["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = "voter=" .. voter}, body)
end
