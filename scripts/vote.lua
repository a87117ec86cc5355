-- wrk script for cyoa's form vote: every request is a vote of a voter that
-- cyoa minted on a page load (a cookie from the file named after `--`, made
-- by scripts/mint.lua), taken in turn, for a random choice of the bundled
-- talk's first decision, opened beforehand. A vote counts only from such a
-- cookie; once the list wraps, a voter votes again (its vote moves or
-- stays). The server must run with --voter-min-age 0, or the voters must be
-- older than it.
--   wrk -t1 -c64 -d10s -s scripts/vote.lua http://127.0.0.1:8080 -- voters.txt
-- The `voter` cookie is not cyoa's; it is there so that the same script
-- drives servers that key voters on it, each request a new voter there.
-- `Sec-Fetch-Site: same-origin` is what a browser sends with the form.
math.randomseed(os.time())
local choices = {"tinder", "dachshund"}
local voters = {}
local next_voter = 0
init = function(args)
  local file = args[1]
  if file then
    for line in io.lines(file) do
      voters[#voters + 1] = line
    end
  end
end
request = function()
  local voter = string.format("voter=%016x%016x", math.random(0, 2^31), math.random(0, 2^31))
  if #voters > 0 then
    next_voter = next_voter % #voters + 1
    voter = voters[next_voter] .. "; " .. voter
  end
  local body = "choice=" .. choices[math.random(1, 2)]
  return wrk.format("POST", "/vote/what-did-you-build", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = voter,
    ["Sec-Fetch-Site"] = "same-origin",
  }, body)
end
