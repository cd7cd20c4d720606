-- POST new contacts with unique emails and phone numbers.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/json"
local n = 0
local id = math.random(1, 9000)
request = function()
  n = n + 1
  local body = string.format('{"family_name":"压测","given_name":"%d","mobile":"+86199%04d%04d","email":"bench%d.%d@example.com"}', n, id, n % 10000, id, n)
  return wrk.format("POST", wrk.path .. "?override_duplicates=true", nil, body)
end
