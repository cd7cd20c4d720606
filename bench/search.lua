-- Quick search with a mix of name prefixes, last-four phone digits and company names.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local terms = { "%E7%8E%8B", "%E6%9D%8E%E5%A8%9C", "1234", "5678", "0000", "Smith", "%E5%8C%97%E4%BA%AC", "Grace", "9876", "%E5%BC%A0" }
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", wrk.path .. "?limit=20&q=" .. terms[(i % #terms) + 1])
end
