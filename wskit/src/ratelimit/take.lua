-- Takes ARGV[3] tokens from the token bucket KEYS[1] if it holds that many, after
-- refilling it by the Redis server's clock (so instances with skewed clocks agree).
-- ARGV: capacity, refill per second, cost, TTL in milliseconds.
-- Returns 0 when the tokens were taken, else the milliseconds (at least 1) until the
-- bucket holds enough. Mirrors bucket.rs.
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(capacity, tokens + (now - at) / 1000000 * rate)
  at = now
end
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = math.max(1, math.ceil((cost - tokens) * 1000 / rate))
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.0f', at))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return wait
