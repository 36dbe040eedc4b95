-- The mixed workload: browse the catalog, log in, read and change the profile, list,
-- add and remove bookmarks, with the weights below, as many users at once.
-- BENCH_USERS: a file with one "email<TAB>password<TAB>access token" line per user.
-- BENCH_MOVIES: the highest movie id to ask for. Counts every status and prints them.

local users = {}
for line in io.lines(os.getenv("BENCH_USERS")) do
   local email, password, token = line:match("^(%S+)\t(%S+)\t(%S+)$")
   users[#users + 1] = {email = email, password = password, token = token}
end
local movies = tonumber(os.getenv("BENCH_MOVIES") or "65")
local pages = math.max(1, math.ceil(movies / 12))

local function authed(user)
   return {["Authorization"] = "Bearer " .. user.token, ["Content-Type"] = "application/json"}
end

-- { weight, function(user) -> method, path, headers, body }
local actions = {
   {30, function(u) return "GET", "/movies/?page=" .. math.random(pages) end},
   {6,  function(u) return "GET", "/movies/?status=new&page=" .. math.random(pages) end},
   {12, function(u) return "GET", "/movies/" .. math.random(movies) .. "/" end},
   {4,  function(u) return "GET", "/genres/" end},
   {2,  function(u) return "GET", "/movies/?q=the&page=1" end},
   {1,  function(u)
           return "POST", "/auth/login/", {["Content-Type"] = "application/json"},
              '{"email":"' .. u.email .. '","password":"' .. u.password .. '"}'
        end},
   {18, function(u) return "GET", "/user/", authed(u) end},
   {3,  function(u)
           return "PATCH", "/user/", authed(u), '{"name":"Bench ' .. math.random(1000) .. '"}'
        end},
   {16, function(u) return "GET", "/favorites/movies/", authed(u) end},
   {5,  function(u) return "POST", "/favorites/movies/" .. math.random(movies) .. "/", authed(u) end},
   {3,  function(u) return "DELETE", "/favorites/movies/" .. math.random(movies) .. "/", authed(u) end},
}
local total = 0
for _, action in ipairs(actions) do total = total + action[1] end

local threads = {}
function setup(thread)
   thread:set("id", #threads + 1)
   threads[#threads + 1] = thread
end

function init(args)
   math.randomseed(os.time() * 1000 + id)
   counts = {}
end

function request()
   local pick = math.random(total)
   for _, action in ipairs(actions) do
      pick = pick - action[1]
      if pick <= 0 then
         local method, path, headers, body = action[2](users[math.random(#users)])
         return wrk.format(method, path, headers, body)
      end
   end
end

function response(status, headers, body)
   counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
   local all = {}
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("counts")) do
         all[status] = (all[status] or 0) + n
      end
   end
   local parts = {}
   for status, n in pairs(all) do parts[#parts + 1] = status .. "=" .. n end
   table.sort(parts)
   io.write("STATUS " .. table.concat(parts, " ") .. "\n")
end
