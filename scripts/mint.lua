-- wrk script that mints cyoa voters: it loads the audience page and appends
-- each new voter's cookie (`cyoa_voter=...`) to the file named after `--`,
-- one a line, for scripts/vote.lua.
--   wrk -t1 -c16 -d2s -s scripts/mint.lua http://127.0.0.1:8080 -- voters.txt
-- Run it with one thread (-t1): each thread would write the file on its own.
local out
init = function(args)
  out = assert(io.open(args[1] or "voters.txt", "a"))
end
request = function()
  return wrk.format("GET", "/")
end
response = function(status, headers, body)
  local cookie = headers["set-cookie"] or headers["Set-Cookie"]
  if status == 200 and cookie then
    local voter = cookie:match("^(cyoa_voter=[^;]+)")
    if voter then
      out:write(voter, "\n")
      out:flush()
    end
  end
end
