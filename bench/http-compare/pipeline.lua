-- wrk pipelining: each connection sends `depth` requests back to back (wrk ... -s pipeline.lua -- 16).
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format()
  end
  req = table.concat(r)
end

request = function()
  return req
end
