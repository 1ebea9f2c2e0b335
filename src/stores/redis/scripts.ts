/**
 * The Lua scripts of RedisJobStore. Every store operation that touches more than one key is one
 * script, so a client or server that stops halfway leaves either the whole change or none of it.
 *
 * Layout under the key prefix P (default `tickwork:`), every key passed to every script as KEYS
 * in this order:
 *
 * | KEYS | key           | type       | holds                                                          |
 * |------|---------------|------------|----------------------------------------------------------------|
 * | 1    | P`jobs`       | hash       | job id -> state JSON                                           |
 * | 2    | P`next`       | sorted set | job id, scored by next run time (epoch ms); paused: absent     |
 * | 3    | P`owners`     | hash       | job id -> scheduler id holding its lease                       |
 * | 4    | P`leases`     | sorted set | job id, scored by the end of its lease                         |
 * | 5    | P`tokens`     | hash       | job id -> fencing token of its last acquisition or update      |
 * | 6    | P`seq`        | string     | counter the tokens are drawn from                              |
 * | 7    | P`runs`       | hash       | `<run time>:<job id>` -> scheduler id that claimed the run     |
 * | 8    | P`runs:until` | sorted set | `<run time>:<job id>`, scored by claim expiry (-inf: given up) |
 * | 9    | P`version`    | string     | schema version of this layout                                  |
 *
 * Tokens come from one counter shared by all jobs, so a job removed and added again never gets a
 * token an old release could still carry. A run key puts the run time first: it is digits (and
 * maybe a minus sign), so the first `:` ends it whatever the job id holds. Wake-up hints go on
 * the pub/sub channel P`changes`, each message holding the random token of the store object
 * that sent it.
 */

/** The schema version this code writes; a store with a newer one is refused. */
export const SCHEMA_VERSION = 1;

/** The key names, in the order of the KEYS every script receives. */
export const KEY_NAMES = [
  'jobs',
  'next',
  'owners',
  'leases',
  'tokens',
  'seq',
  'runs',
  'runs:until',
  'version',
];

const PRELUDE = `
local jobsKey, nextKey, ownerKey, leaseKey, tokenKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local seqKey, runsKey, runUntilKey, versionKey = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local function endLease(id)
  redis.call('HDEL', ownerKey, id)
  redis.call('ZREM', leaseKey, id)
end
`;

function script(body: string): string {
  return `${PRELUDE}${body}`;
}

/**
 * Migrations by the version they lead to (index 0 leads to version 1). Each checks the version it
 * starts from, so two processes opening the store at once apply it once. ARGV: from, to.
 */
export const MIGRATIONS: readonly string[] = [
  // Version 1, the first layout: nothing to convert, only the version to write.
  script(`
local current = tonumber(redis.call('GET', versionKey) or '0')
if current ~= tonumber(ARGV[1]) then return current end
redis.call('SET', versionKey, ARGV[2])
return tonumber(ARGV[2])
`),
];

/** The scripts of the store's operations (ARGV documented on each). */
export const SCRIPTS = {
  /** ARGV: id. Returns nil or { state, next run time or nil }. */
  get: script(`
local state = redis.call('HGET', jobsKey, ARGV[1])
if not state then return false end
return { state, redis.call('ZSCORE', nextKey, ARGV[1]) }
`),

  /** Returns flat triples (id, next run time or nil, state): scheduled jobs in order, then paused. */
  all: script(`
local flat = redis.call('HGETALL', jobsKey)
local states = {}
for i = 1, #flat, 2 do states[flat[i]] = flat[i + 1] end
local scored = redis.call('ZRANGE', nextKey, 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #scored, 2 do
  local id = scored[i]
  local state = states[id]
  if state then
    out[#out + 1] = id
    out[#out + 1] = scored[i + 1]
    out[#out + 1] = state
    states[id] = nil
  end
end
for id, state in pairs(states) do
  out[#out + 1] = id
  out[#out + 1] = false
  out[#out + 1] = state
end
return out
`),

  /** ARGV: now. Returns flat triples (id, next run time, state) of jobs due at now, in order. */
  due: script(`
local scored = redis.call('ZRANGEBYSCORE', nextKey, '-inf', ARGV[1], 'WITHSCORES')
local out = {}
for i = 1, #scored, 2 do
  local state = redis.call('HGET', jobsKey, scored[i])
  if state then
    out[#out + 1] = scored[i]
    out[#out + 1] = scored[i + 1]
    out[#out + 1] = state
  end
end
return out
`),

  /**
   * ARGV: now, most leased jobs to look past. Walks the schedule from its start: the first job
   * without a live lease ends the walk; a leased one counts as free at the later of its next run
   * time and its lease's end. Past the limit it answers the next run time it reached, which is
   * early, never late. Returns nil when no job is scheduled.
   */
  nextRunTime: script(`
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local best = nil
local seen = 0
local offset = 0
while true do
  local page = redis.call('ZRANGE', nextKey, offset, offset + 99, 'WITHSCORES')
  if #page == 0 then break end
  for i = 1, #page, 2 do
    local score = tonumber(page[i + 1])
    if best ~= nil and score >= best then return best end
    local held = redis.call('ZSCORE', leaseKey, page[i])
    if not held or tonumber(held) <= now then return score end
    local free = math.max(score, tonumber(held))
    if best == nil or free < best then best = free end
    seen = seen + 1
    if seen >= limit then return math.min(best, score) end
  end
  offset = offset + 100
end
if best == nil then return false end
return best
`),

  /**
   * ARGV: triples (id, state, next run time ('' = paused)). Adds them in order; returns one flag
   * per triple: 1, or 0 when the id exists (also when an earlier triple added it).
   */
  insert: script(`
local out = {}
for i = 1, #ARGV, 3 do
  local id = ARGV[i]
  if redis.call('HSETNX', jobsKey, id, ARGV[i + 1]) == 0 then
    out[#out + 1] = 0
  else
    if ARGV[i + 2] ~= '' then redis.call('ZADD', nextKey, ARGV[i + 2], id) end
    redis.call('HSET', tokenKey, id, redis.call('INCR', seqKey))
    out[#out + 1] = 1
  end
end
return out
`),

  /** ARGV: id, state, next run time ('' = paused). Ends the lease, new token. 0 when no such id. */
  update: script(`
if redis.call('HEXISTS', jobsKey, ARGV[1]) == 0 then return 0 end
redis.call('HSET', jobsKey, ARGV[1], ARGV[2])
if ARGV[3] == '' then
  redis.call('ZREM', nextKey, ARGV[1])
else
  redis.call('ZADD', nextKey, ARGV[3], ARGV[1])
end
endLease(ARGV[1])
redis.call('HSET', tokenKey, ARGV[1], redis.call('INCR', seqKey))
return 1
`),

  /** ARGV: id. Removes the job, its lease and its run claims. 0 when no such id. */
  remove: script(`
local id = ARGV[1]
if redis.call('HDEL', jobsKey, id) == 0 then return 0 end
redis.call('ZREM', nextKey, id)
redis.call('HDEL', tokenKey, id)
endLease(id)
-- Claims are few (runs going on now), so a walk over them beats an index per job.
local suffix = ':' .. id
local keys = redis.call('HKEYS', runsKey)
for _, key in ipairs(keys) do
  if #key > #suffix and string.sub(key, -#suffix) == suffix
    and string.find(string.sub(key, 1, #key - #suffix), '^%-?%d+$') then
    redis.call('HDEL', runsKey, key)
    redis.call('ZREM', runUntilKey, key)
  end
end
return 1
`),

  /** Removes every job, lease and run claim; keeps the token counter and the version. */
  removeAll: script(`
redis.call('DEL', jobsKey, nextKey, ownerKey, leaseKey, tokenKey, runsKey, runUntilKey)
return 1
`),

  /**
   * ARGV: owner, now, lease end, limit, retake ('1': also take jobs owner itself holds, whose
   * acquisition or release it never heard back from), then ids not to take. Takes due jobs
   * without a live lease, earliest first. Returns flat quadruples (id, next run time, state, token).
   */
  acquire: script(`
local owner, nowText, leaseEnd = ARGV[1], ARGV[2], ARGV[3]
local now, limit, retake = tonumber(nowText), tonumber(ARGV[4]), ARGV[5] == '1'
local skip = {}
for k = 6, #ARGV do skip[ARGV[k]] = true end
local out = {}
local taken = 0
local offset = 0
while taken < limit do
  local page = redis.call('ZRANGEBYSCORE', nextKey, '-inf', nowText, 'WITHSCORES', 'LIMIT', offset, 500)
  for i = 1, #page, 2 do
    local id = page[i]
    local held = redis.call('ZSCORE', leaseKey, id)
    if not skip[id] and (not held or tonumber(held) <= now or (retake and redis.call('HGET', ownerKey, id) == owner)) then
      local state = redis.call('HGET', jobsKey, id)
      if state then
        local token = redis.call('INCR', seqKey)
        redis.call('HSET', ownerKey, id, owner)
        redis.call('ZADD', leaseKey, leaseEnd, id)
        redis.call('HSET', tokenKey, id, token)
        out[#out + 1] = id
        out[#out + 1] = page[i + 1]
        out[#out + 1] = state
        out[#out + 1] = token
        taken = taken + 1
        if taken >= limit then break end
      end
    end
  end
  if #page < 1000 then break end
  offset = offset + 500
end
return out
`),

  /**
   * ARGV: owner, claim end, then per release: id, token, action ('n' = next run time, 'p' =
   * pause, 'r' = remove), next run time, run count, run times. Applies a release only while the
   * job is leased by owner under that token. Returns one entry per release, in order: -1 when
   * it was not applied, else an array with one flag per run time (1 = claimed for owner now).
   */
  release: script(`
local owner, claimEnd = ARGV[1], ARGV[2]
local out = {}
local i = 3
while i <= #ARGV do
  local id, token, action, nextText = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local count = tonumber(ARGV[i + 4])
  if redis.call('HGET', ownerKey, id) == owner and redis.call('HGET', tokenKey, id) == token then
    endLease(id)
    if action == 'r' then
      redis.call('HDEL', jobsKey, id)
      redis.call('ZREM', nextKey, id)
      redis.call('HDEL', tokenKey, id)
    elseif action == 'p' then
      redis.call('ZREM', nextKey, id)
    else
      redis.call('ZADD', nextKey, nextText, id)
    end
    -- A run time claimed already (its job was set back to it meanwhile) is not claimed twice:
    -- the job change stands, and its flag says 0 so this scheduler does not run it.
    local flags = {}
    for j = 1, count do
      local key = ARGV[i + 4 + j] .. ':' .. id
      if redis.call('HSETNX', runsKey, key, owner) == 1 then
        redis.call('ZADD', runUntilKey, claimEnd, key)
        flags[j] = 1
      else
        flags[j] = 0
      end
    end
    out[#out + 1] = flags
  else
    out[#out + 1] = -1
  end
  i = i + 5 + count
end
return out
`),

  /** ARGV: pairs of (job id, run time). Deletes those run claims. */
  completeRuns: script(`
for i = 1, #ARGV, 2 do
  local key = ARGV[i + 1] .. ':' .. ARGV[i]
  redis.call('HDEL', runsKey, key)
  redis.call('ZREM', runUntilKey, key)
end
return 1
`),

  /**
   * ARGV: owner, then pairs of (job id, run time). Gives up those of these claims that owner
   * holds: claims of a release whose reply was lost, for runs that were never started. Their
   * expiry becomes -inf, which renewal skips, so the next look for abandoned runs reports them.
   */
  expireRuns: script(`
for i = 2, #ARGV, 2 do
  local key = ARGV[i + 1] .. ':' .. ARGV[i]
  if redis.call('HGET', runsKey, key) == ARGV[1] then
    redis.call('ZADD', runUntilKey, 'XX', '-inf', key)
  end
end
return 1
`),

  /** ARGV: owner, claim end. Extends every run claim of owner, except those it gave up. */
  renewRuns: script(`
local flat = redis.call('HGETALL', runsKey)
for i = 1, #flat, 2 do
  if flat[i + 1] == ARGV[1] and redis.call('ZSCORE', runUntilKey, flat[i]) ~= '-inf' then
    redis.call('ZADD', runUntilKey, 'XX', ARGV[2], flat[i])
  end
end
return 1
`),

  /**
   * ARGV: now, until. Extends the claims that expired before now to until (keeping their owner),
   * for the caller to report and then complete; returns flat (job id, run time, owner).
   */
  takeAbandonedRuns: script(`
local keys = redis.call('ZRANGEBYSCORE', runUntilKey, '-inf', '(' .. ARGV[1])
local out = {}
for _, key in ipairs(keys) do
  local owner = redis.call('HGET', runsKey, key) or ''
  redis.call('ZADD', runUntilKey, 'XX', ARGV[2], key)
  local sep = string.find(key, ':', 1, true)
  if sep then
    out[#out + 1] = string.sub(key, sep + 1)
    out[#out + 1] = string.sub(key, 1, sep - 1)
    out[#out + 1] = owner
  end
end
return out
`),
} as const;

/** The name of a store operation's script. */
export type ScriptName = keyof typeof SCRIPTS;
