/**
 * The Lua scripts of RedisJobStore. Every store operation that touches more than one key is one
 * script, so a client or server that stops halfway leaves either the whole change or none of it.
 *
 * Layout under the key prefix P (default `tickwork:`), every key passed to every script as KEYS
 * in this order:
 *
 * | KEYS | key               | type       | holds                                                          |
 * |------|-------------------|------------|----------------------------------------------------------------|
 * | 1    | P`jobs`           | hash       | job id -> state JSON                                           |
 * | 2    | P`next`           | sorted set | job id, scored by next run time (epoch ms); paused: absent     |
 * | 3    | P`owners`         | hash       | job id -> scheduler id holding its lease                       |
 * | 4    | P`leases`         | sorted set | job id, scored by the end of its lease                         |
 * | 5    | P`tokens`         | hash       | job id -> fencing token of its last acquisition or update      |
 * | 6    | P`seq`            | string     | counter the tokens are drawn from                              |
 * | 7    | P`runs`           | hash       | `<run time>:<job id>` -> scheduler id that claimed the run     |
 * | 8    | P`runs:until`     | sorted set | `<run time>:<job id>`, scored by claim expiry (-inf: given up) |
 * | 9    | P`runs:attempt`   | hash       | `<run time>:<job id>` -> the claim's attempt, past the first   |
 * | 10   | P`runs:taker`     | hash       | `<run time>:<job id>` -> which `takeRetries` call made it      |
 * | 11   | P`retries`        | sorted set | `<run time>:<attempt>:<job id>`, scored by due time            |
 * | 12   | P`retries:byjob`  | sorted set | `<tag><run time>:<attempt>`, all scored 0 (by job)             |
 * | 13   | P`retries:state`  | hash       | retry member -> the job's state JSON when the retry was made   |
 * | 14   | P`history`        | hash       | `<seq>` -> history row JSON                                    |
 * | 15   | P`history:bytime` | sorted set | `<seq><time><tag>`, scored by finishedAt                       |
 * | 16   | P`history:byjob`  | sorted set | `<tag><time><seq>`, all scored 0 (by job, finishedAt, seq)     |
 * | 17   | P`history:seq`    | string     | counter the history rows' `<seq>` are drawn from               |
 * | 18   | P`version`        | string     | schema version of this layout                                  |
 *
 * No key is made from a job id, so a `{tag}` in the prefix keeps every key in one cluster slot.
 *
 * Tokens come from one counter shared by all jobs, so a job removed and added again never gets a
 * token an old release could still carry. A run key puts the run time first: it is digits (and
 * maybe a minus sign), so the first `:` ends it whatever the job id holds; a retry member puts
 * the run time and the attempt first for the same reason. A retry keeps the job's state from
 * when it was made: a job whose trigger ended (a date job) is removed by its last release, and
 * its retries still run, from that state.
 *
 * The two `byjob` sets are scored 0 so that ZRANGEBYLEX reads one job's entries: a member starts
 * with the job's tag, `<byte length of the id>:<id>`, and no member of another job starts with
 * it (the length says where the id ends). What follows a tag is ASCII digits, `-` and `:`, so
 * `(<tag>\xff` bounds a job's range from above. In history members, `<seq>` is the row's number
 * from P`history:seq` in 16 zero-padded digits (rows written later have larger ones) and `<time>`
 * is finishedAt plus 8.64e15 (the span of a JavaScript date) in 17 zero-padded digits, so that
 * byte order is time order; P`history:bytime` breaks finishedAt ties by `<seq>` the same way.
 *
 * A claim without a P`runs:attempt` field is a first attempt: first attempts are written without
 * one (a field fewer per run), as were all claims before attempts were kept, and a field of 1
 * reads the same. A claim without a P`runs:taker` field was made by no `takeRetries` call. The
 * keys of retries and history are absent until used. So the layout version stays 1, and
 * processes of earlier versions can share the store with this one.
 *
 * Wake-up hints go on the pub/sub channel P`changes`, each message holding the random token of
 * the store object that sent it.
 *
 * Over 400 lines because it is the Lua source of every script, each a few dozen lines that must
 * be read together with the key layout above.
 */

/** The schema version this code writes; a store with a newer one is refused. */
export const SCHEMA_VERSION = 1;

/** The key names, in the order of the KEYS every script receives (the version key last). */
export const KEY_NAMES = [
  'jobs',
  'next',
  'owners',
  'leases',
  'tokens',
  'seq',
  'runs',
  'runs:until',
  'runs:attempt',
  'runs:taker',
  'retries',
  'retries:byjob',
  'retries:state',
  'history',
  'history:bytime',
  'history:byjob',
  'history:seq',
  'version',
];

/** Digits of `<time>` in history members. */
export const TIME_DIGITS = 17;
/** What `<time>` adds to finishedAt: the span of a JavaScript date, so the sum is never negative. */
export const TIME_OFFSET = 8_640_000_000_000_000;

const PRELUDE = `
local jobsKey, nextKey, ownerKey, leaseKey, tokenKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local seqKey, runsKey, runUntilKey, runAttemptKey, runTakerKey = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local retriesKey, retryJobsKey, retryStateKey = KEYS[11], KEYS[12], KEYS[13]
local historyKey, historyTimeKey, historyJobsKey, historySeqKey = KEYS[14], KEYS[15], KEYS[16], KEYS[17]
local versionKey = KEYS[18]
local TAG_END = string.char(255)
local SEQ_DIGITS, TIME_DIGITS = 16, ${TIME_DIGITS}
local SEQ_FORMAT = '%0' .. SEQ_DIGITS .. 'd'
-- Variadic commands take a batch's fields in one call; unpack spreads at most CHUNK at a time.
local CHUNK = 1000
-- Calls command on key with the items of list (per items to an entry: 1 for fields or members,
-- 2 for pairs), at most CHUNK entries a call.
local function bulk(command, key, list, per)
  local step = CHUNK * per
  for s = 1, #list, step do
    redis.call(command, key, unpack(list, s, math.min(s + step - 1, #list)))
  end
end
-- HMGET of every field of list: the values in list order (false: none).
local function hmget(key, list)
  local out = {}
  for s = 1, #list, CHUNK do
    local part = redis.call('HMGET', key, unpack(list, s, math.min(s + CHUNK - 1, #list)))
    for k = 1, #part do out[s + k - 1] = part[k] end
  end
  return out
end
local function endLease(id)
  redis.call('HDEL', ownerKey, id)
  redis.call('ZREM', leaseKey, id)
end
local function jobTag(id)
  return #id .. ':' .. id
end
-- The tag a byjob member starts with, or nil.
local function tagOf(member)
  local digits = string.match(member, '^(%d+):')
  if not digits then return nil end
  return string.sub(member, 1, #digits + 1 + tonumber(digits))
end
-- A claim without an attempt field was written before attempts were kept: a first attempt.
local function claimAttempt(key)
  return tonumber(redis.call('HGET', runAttemptKey, key) or '1')
end
-- Claims a run for owner unless it is claimed already (false then). A first attempt gets no
-- attempt field (its absence reads as 1), a claim of no takeRetries call no taker field: a
-- claim that goes takes both with it (dropClaim), so a free run time has neither.
local function makeClaim(key, owner, claimEnd, attempt, taker)
  if redis.call('HSETNX', runsKey, key, owner) == 0 then return false end
  redis.call('ZADD', runUntilKey, claimEnd, key)
  if tonumber(attempt) ~= 1 then redis.call('HSET', runAttemptKey, key, attempt) end
  if taker then redis.call('HSET', runTakerKey, key, taker) end
  return true
end
-- Deletes a claim with its fields; false when there was none. attemptField: the claim's attempt
-- field as read already (false: it has none), or nil.
local function dropClaim(key, attemptField)
  if redis.call('HDEL', runsKey, key) == 0 then return false end
  redis.call('ZREM', runUntilKey, key)
  if attemptField ~= false then redis.call('HDEL', runAttemptKey, key) end
  redis.call('HDEL', runTakerKey, key)
  return true
end
-- The nine fields of a packed completeRuns argument (each followed by a comma), read by one match.
local NINE_FIELDS = '^' .. string.rep('([^,]*),', 9) .. '$'
-- A retry member split into run time, attempt and job id, or nil.
local function parseRetry(member)
  local a = string.find(member, ':', 2, true)
  if not a then return nil end
  local b = string.find(member, ':', a + 1, true)
  if not b then return nil end
  return string.sub(member, 1, a - 1), string.sub(member, a + 1, b - 1), string.sub(member, b + 1)
end
-- Adds a retry ('' = no state); one of that run time and attempt waiting already stays as is.
local function addRetry(id, runTime, attempt, dueAt, state)
  local suffix = runTime .. ':' .. attempt
  local member = suffix .. ':' .. id
  if redis.call('ZADD', retriesKey, 'NX', dueAt, member) == 0 then return end
  redis.call('ZADD', retryJobsKey, 0, jobTag(id) .. suffix)
  if state ~= '' then redis.call('HSET', retryStateKey, member, state) end
end
local function dropRetry(id, runTime, attempt)
  local suffix = runTime .. ':' .. attempt
  redis.call('ZREM', retriesKey, suffix .. ':' .. id)
  redis.call('ZREM', retryJobsKey, jobTag(id) .. suffix)
  redis.call('HDEL', retryStateKey, suffix .. ':' .. id)
end
-- Whether a retry of this job may run now or later: its job is there and not paused, or gone
-- (its trigger ended) with the retry holding its state.
local function retryRunnable(id, member)
  if redis.call('ZSCORE', nextKey, id) then return true end
  return redis.call('HEXISTS', jobsKey, id) == 0 and redis.call('HEXISTS', retryStateKey, member) == 1
end
-- Deletes every waiting retry of a job, through its range of the byjob set.
local function cancelRetries(id)
  local tag = jobTag(id)
  local low, high = '[' .. tag, '(' .. tag .. TAG_END
  for _, member in ipairs(redis.call('ZRANGEBYLEX', retryJobsKey, low, high)) do
    local retry = string.sub(member, #tag + 1) .. ':' .. id
    redis.call('ZREM', retriesKey, retry)
    redis.call('HDEL', retryStateKey, retry)
  end
  redis.call('ZREMRANGEBYLEX', retryJobsKey, low, high)
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
   * ARGV: now, most leased jobs (and most retries) to look past. Walks the schedule from its
   * start: the first job without a live lease ends the walk; a leased one counts as free at the
   * later of its next run time and its lease's end. Then walks the waiting retries by due time
   * the same way: retries that cannot run (paused job, or job gone without a state) are
   * skipped, and one whose run time is still claimed (by an earlier attempt) counts as free at
   * the later of its due time and the claim's expiry.
   * Past the limit a walk answers the time it reached, which is early, never late. Returns nil
   * when no job is scheduled and no retry waits.
   */
  nextRunTime: script(`
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local function nextJob()
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
  return best
end
local function nextRetry(best)
  local seen = 0
  local offset = 0
  while true do
    local page = redis.call('ZRANGE', retriesKey, offset, offset + 99, 'WITHSCORES')
    if #page == 0 then break end
    for i = 1, #page, 2 do
      local due = tonumber(page[i + 1])
      if best ~= nil and due >= best then return best end
      local runTime, _, id = parseRetry(page[i])
      if id and retryRunnable(id, page[i]) then
        local key = runTime .. ':' .. id
        local expiry = redis.call('HEXISTS', runsKey, key) == 1 and redis.call('ZSCORE', runUntilKey, key)
        if not expiry or expiry == '-inf' then return due end
        local free = math.max(due, tonumber(expiry))
        if best == nil or free < best then best = free end
      end
      seen = seen + 1
      if seen >= limit then
        if best == nil then return due end
        return math.min(best, due)
      end
    end
    offset = offset + 100
  end
  return best
end
local best = nextRetry(nextJob())
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

  /**
   * ARGV: id, state, next run time ('' = paused). Ends the lease, new token; pausing deletes the
   * job's waiting retries. 0 when no such id.
   */
  update: script(`
if redis.call('HEXISTS', jobsKey, ARGV[1]) == 0 then return 0 end
redis.call('HSET', jobsKey, ARGV[1], ARGV[2])
if ARGV[3] == '' then
  redis.call('ZREM', nextKey, ARGV[1])
  cancelRetries(ARGV[1])
else
  redis.call('ZADD', nextKey, ARGV[3], ARGV[1])
end
endLease(ARGV[1])
redis.call('HSET', tokenKey, ARGV[1], redis.call('INCR', seqKey))
return 1
`),

  /** ARGV: id. Removes the job, its lease, its run claims and its waiting retries. 0 when no such id. */
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
    dropClaim(key)
  end
end
cancelRetries(id)
return 1
`),

  /**
   * Removes every job, lease, run claim and waiting retry; keeps the history, the counters and
   * the version.
   */
  removeAll: script(`
redis.call('DEL', jobsKey, nextKey, ownerKey, leaseKey, tokenKey, runsKey, runUntilKey, runAttemptKey,
  runTakerKey, retriesKey, retryJobsKey, retryStateKey)
return 1
`),

  /**
   * ARGV: owner, now, lease end, limit, retake ('1': also take jobs owner itself holds, which
   * its store says may be left over, as `StoreBackend.acquire` tells), then ids not to take. Takes due jobs
   * without a live lease (one ending at now is over, as in nextRunTime), earliest first. Returns
   * flat quadruples (id, next run time, state, token).
   */
  acquire: script(`
local owner, nowText, leaseEnd = ARGV[1], ARGV[2], ARGV[3]
local now, limit, retake = tonumber(nowText), tonumber(ARGV[4]), ARGV[5] == '1'
local skip = {}
for k = 6, #ARGV do skip[ARGV[k]] = true end
local out = {}
local taken = 0
local offset = 0
-- Tokens are drawn from the counter read once and written back once.
local seq = tonumber(redis.call('GET', seqKey) or '0')
-- A job has an owner exactly while it has a lease (acquire writes both, endLease deletes both),
-- so the owners of a page say which jobs need their lease's end read.
while taken < limit do
  local page = redis.call('ZRANGEBYSCORE', nextKey, '-inf', nowText, 'WITHSCORES', 'LIMIT', offset, 500)
  local ids = {}
  for i = 1, #page, 2 do ids[#ids + 1] = page[i] end
  local holders = hmget(ownerKey, ids)
  local owners, leases, tokens = {}, {}, {}
  local k = 1
  while k <= #ids and taken < limit do
    -- The free jobs still wanted, then their states in one read (a job without one is skipped).
    local picked, times = {}, {}
    while k <= #ids and taken + #picked < limit do
      local id, holder = ids[k], holders[k]
      local free = not skip[id]
      if free and holder then
        local held = redis.call('ZSCORE', leaseKey, id)
        free = not held or tonumber(held) <= now or (retake and holder == owner)
      end
      if free then
        picked[#picked + 1] = id
        times[#picked] = page[2 * k]
      end
      k = k + 1
    end
    local states = hmget(jobsKey, picked)
    for p = 1, #picked do
      local id, state = picked[p], states[p]
      if state then
        seq = seq + 1
        local token = string.format('%d', seq)
        owners[#owners + 1] = id
        owners[#owners + 1] = owner
        leases[#leases + 1] = leaseEnd
        leases[#leases + 1] = id
        tokens[#tokens + 1] = id
        tokens[#tokens + 1] = token
        out[#out + 1] = id
        out[#out + 1] = times[p]
        out[#out + 1] = state
        out[#out + 1] = token
        taken = taken + 1
      end
    end
  end
  bulk('HSET', ownerKey, owners, 2)
  bulk('ZADD', leaseKey, leases, 2)
  bulk('HSET', tokenKey, tokens, 2)
  if #page < 1000 then break end
  offset = offset + 500
end
if taken > 0 then redis.call('SET', seqKey, string.format('%d', seq)) end
return out
`),

  /**
   * ARGV: owner, claim end, then two per release: id, and its packed fields (each followed by a
   * comma): token, action ('n' = next run time, 'p' = pause, 'r' = remove), next run time, then
   * the run times. Applies a release only while the job is leased by owner under that token. A
   * removal here is a job whose trigger ended: its waiting retries stay, to run from their
   * state. Returns one string, an entry per release in order, each followed by a comma: `-`
   * when it was not applied, else one digit per run time (1 = claimed for owner now, as a
   * first attempt; 0 = not). One string rather than an array per release: the server builds
   * and the client reads one value.
   */
  release: script(`
local owner, claimEnd = ARGV[1], ARGV[2]
local ids = {}
for i = 3, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
local holders, tokens = hmget(ownerKey, ids), hmget(tokenKey, ids)
-- Releases applied in this call: their lease has ended, so a repeat of one is refused.
local done = {}
local ended, removed, paused, scheduled = {}, {}, {}, {}
local applied = {}
local runKeys = {}
for k = 1, #ids do
  local id = ids[k]
  -- Token, action and next run time by one match; the run times (often one) follow in rest.
  local token, action, nextTime, rest = string.match(ARGV[2 + 2 * k], '^([^,]*),([^,]*),([^,]*),(.*)$')
  if not done[id] and holders[k] == owner and tokens[k] == token then
    done[id] = true
    ended[#ended + 1] = id
    if action == 'r' then
      removed[#removed + 1] = id
    elseif action == 'p' then
      paused[#paused + 1] = id
    else
      scheduled[#scheduled + 1] = nextTime
      scheduled[#scheduled + 1] = id
    end
    local keys = {}
    for runTime in string.gmatch(rest, '([^,]*),') do
      local key = runTime .. ':' .. id
      keys[#keys + 1] = key
      runKeys[#runKeys + 1] = key
    end
    applied[k] = keys
  end
end
bulk('HDEL', ownerKey, ended, 1)
bulk('ZREM', leaseKey, ended, 1)
bulk('HDEL', jobsKey, removed, 1)
bulk('ZREM', nextKey, removed, 1)
bulk('HDEL', tokenKey, removed, 1)
bulk('ZREM', nextKey, paused, 1)
bulk('ZADD', nextKey, scheduled, 2)
-- A run time claimed already (its job was set back to it meanwhile) is not claimed twice: the
-- job change stands, and its flag says 0 so this scheduler does not run it. The claims are
-- first attempts of no takeRetries call: no attempt or taker field.
local claimed = hmget(runsKey, runKeys)
local taken = {}
for k = 1, #runKeys do
  if claimed[k] then taken[runKeys[k]] = true end
end
local claims, expiries = {}, {}
-- The reply's pieces: the flags of each release, then its comma.
local out = {}
for k = 1, #ids do
  local keys = applied[k]
  if keys then
    for j = 1, #keys do
      local key = keys[j]
      if taken[key] then
        out[#out + 1] = '0'
      else
        taken[key] = true
        claims[#claims + 1] = key
        claims[#claims + 1] = owner
        expiries[#expiries + 1] = claimEnd
        expiries[#expiries + 1] = key
        out[#out + 1] = '1'
      end
    end
  else
    out[#out + 1] = '-'
  end
  out[#out + 1] = ','
end
bulk('HSET', runsKey, claims, 2)
bulk('ZADD', runUntilKey, expiries, 2)
return table.concat(out)
`),

  /**
   * ARGV, per run: its job id; its packed fields (each followed by a comma): run time, attempt,
   * then the history row's flag ('' = none, '=' = of this job id, '+' = of the job id that
   * follows), finishedAt and <time>, then the retry's flag (as the row's), run time, attempt and
   * due time; then, as the flags say, the row's job id and JSON, and the retry's job id and state
   * ('' = none). For each run whose claim of that attempt exists: deletes the claim, writes the
   * history row, and adds the retry unless its job is there and paused (a retry of that run time
   * and attempt waiting already stays as is). Other runs change nothing.
   */
  completeRuns: script(`
-- First the runs as the arguments give them, then what each changes, one command per kind.
local runs = {}
local i = 1
while i <= #ARGV do
  local id, f = ARGV[i], { string.match(ARGV[i + 1], NINE_FIELDS) }
  i = i + 2
  local run = { id = id, f = f, key = f[1] .. ':' .. id }
  if f[3] ~= '' then
    if f[3] == '+' then run.rowId = ARGV[i]; i = i + 1 else run.rowId = id end
    run.json = ARGV[i]
    i = i + 1
  end
  if f[6] ~= '' then
    if f[6] == '+' then run.retryId = ARGV[i]; i = i + 1 else run.retryId = id end
    run.state = ARGV[i]
    i = i + 1
  end
  runs[#runs + 1] = run
end
local keys = {}
for k = 1, #runs do keys[k] = runs[k].key end
-- Attempt and taker fields are rare (retries): their hashes are not read or written when absent.
local attempts = redis.call('EXISTS', runAttemptKey) == 1 and hmget(runAttemptKey, keys) or {}
local owners = hmget(runsKey, keys)
-- Claims deleted in this call: a run listed twice finds its claim gone the second time.
local gone = {}
local dropped, withAttempt = {}, {}
local rows, byTime, byJob = {}, {}, {}
-- Row numbers are drawn from the counter read once and written back once.
local rowSeq = nil
for k = 1, #runs do
  local run, key = runs[k], keys[k]
  -- The claim goes only when it is of that attempt (and there is one).
  if owners[k] and not gone[key] and tonumber(attempts[k] or '1') == tonumber(run.f[2]) then
    gone[key] = true
    dropped[#dropped + 1] = key
    if attempts[k] then withAttempt[#withAttempt + 1] = key end
    if run.json then
      if rowSeq == nil then rowSeq = tonumber(redis.call('GET', historySeqKey) or '0') end
      rowSeq = rowSeq + 1
      local seq = string.format(SEQ_FORMAT, rowSeq)
      local tag, time = jobTag(run.rowId), run.f[5]
      rows[#rows + 1] = seq
      rows[#rows + 1] = run.json
      byTime[#byTime + 1] = run.f[4]
      byTime[#byTime + 1] = seq .. time .. tag
      byJob[#byJob + 1] = 0
      byJob[#byJob + 1] = tag .. time .. seq
    end
    local retryId = run.retryId
    if retryId and not (redis.call('HEXISTS', jobsKey, retryId) == 1 and not redis.call('ZSCORE', nextKey, retryId)) then
      addRetry(retryId, run.f[7], run.f[8], run.f[9], run.state)
    end
  end
end
bulk('HDEL', runsKey, dropped, 1)
bulk('ZREM', runUntilKey, dropped, 1)
bulk('HDEL', runAttemptKey, withAttempt, 1)
if redis.call('EXISTS', runTakerKey) == 1 then bulk('HDEL', runTakerKey, dropped, 1) end
bulk('HSET', historyKey, rows, 2)
bulk('ZADD', historyTimeKey, byTime, 2)
bulk('ZADD', historyJobsKey, byJob, 2)
if rowSeq ~= nil then redis.call('SET', historySeqKey, string.format('%d', rowSeq)) end
return 1
`),

  /**
   * ARGV: job id, run time, attempt, due time. Queues a run outside the job's schedule as a
   * waiting retry holding the job's state. Returns 'no_job', 'paused', 'exists' (a run of that
   * run time is claimed or waits, or is the job's next fire) or 'queued'.
   */
  queueRun: script(`
local id, runTime, attempt = ARGV[1], ARGV[2], ARGV[3]
local state = redis.call('HGET', jobsKey, id)
if not state then return 'no_job' end
local nextTime = redis.call('ZSCORE', nextKey, id)
if not nextTime then return 'paused' end
if tonumber(nextTime) == tonumber(runTime) or redis.call('HEXISTS', runsKey, runTime .. ':' .. id) == 1 then
  return 'exists'
end
-- A retry of any attempt of this run time (the byjob set holds '<tag><run time>:<attempt>').
local tag = jobTag(id) .. runTime .. ':'
if #redis.call('ZRANGEBYLEX', retryJobsKey, '[' .. tag, '(' .. tag .. TAG_END, 'LIMIT', 0, 1) > 0 then
  return 'exists'
end
addRetry(id, runTime, attempt, ARGV[4], state)
return 'queued'
`),

  /**
   * ARGV: owner, now, claim end, limit, the id of this call, then the ids of jobs to skip. Takes
   * due retries, earliest first, whose job is there and not paused, or gone with the retry holding its state, and whose run
   * time is not claimed (an earlier attempt still holds it): each leaves the waiting set and
   * becomes a claim of owner with its attempt, marked with the call's id ('' = none) for
   * `giveUpTaken`.
   * Retries of jobs gone that hold no state are deleted (nothing can run them). Returns flat
   * sextuples (job id, next run time or nil, state, run time, attempt, due time): the job's row,
   * or for a job gone, the retry's state without a next run time.
   */
  takeRetries: script(`
local owner, nowText, claimEnd, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local callId = ARGV[5] ~= '' and ARGV[5] or nil
local skip = {}
for i = 6, #ARGV do skip[ARGV[i]] = true end
local out = {}
local taken = 0
-- Due retries left waiting stay in the set: the next page starts past them.
local kept = 0
while taken < limit do
  local page = redis.call('ZRANGEBYSCORE', retriesKey, '-inf', nowText, 'WITHSCORES', 'LIMIT', kept, 100)
  for i = 1, #page, 2 do
    local member, dueAt = page[i], page[i + 1]
    local runTime, attempt, id = parseRetry(member)
    local state, nextTime, paused = false, false, false
    if id then
      state = redis.call('HGET', jobsKey, id)
      if state then
        nextTime = redis.call('ZSCORE', nextKey, id)
        paused = not nextTime
      else
        state = redis.call('HGET', retryStateKey, member)
      end
    end
    if not id or skip[id] then
      kept = kept + 1
    elseif not state then
      dropRetry(id, runTime, attempt)
    else
      if paused or not makeClaim(runTime .. ':' .. id, owner, claimEnd, attempt, callId) then
        kept = kept + 1
      else
        dropRetry(id, runTime, attempt)
        out[#out + 1] = id
        out[#out + 1] = nextTime
        out[#out + 1] = state
        out[#out + 1] = runTime
        out[#out + 1] = attempt
        out[#out + 1] = dueAt
        taken = taken + 1
        if taken >= limit then break end
      end
    end
  end
  if #page < 200 then break end
end
return out
`),

  /**
   * ARGV: limit, 'job' or 'all', job id ('' for all), lower bound, upper bound, then the outcomes
   * wanted (none: every outcome). The bounds are <time> strings ('' = none) for a job, scores
   * ('-inf', '+inf') for all. Returns the JSON of up to limit history rows, newest first (ties:
   * the later written first).
   */
  /**
   * ARGV: job ids. Returns, for each in turn, the JSON of its newest history row (ties: the
   * later written), or '' when it has none.
   */
  latestRuns: script(`
local out = {}
for i = 1, #ARGV do
  local tag = jobTag(ARGV[i])
  local newest = redis.call('ZREVRANGEBYLEX', historyJobsKey, '(' .. tag .. TAG_END, '[' .. tag, 'LIMIT', 0, 1)
  local json = false
  if #newest > 0 then json = redis.call('HGET', historyKey, string.sub(newest[1], -SEQ_DIGITS)) end
  out[i] = json or ''
end
return out
`),

  runs: script(`
local limit, byJob = tonumber(ARGV[1]), ARGV[2] == 'job'
local low, high
if byJob then
  local tag = jobTag(ARGV[3])
  low, high = '[' .. tag .. ARGV[4], '(' .. tag .. ARGV[5] .. TAG_END
else
  low, high = ARGV[4], ARGV[5]
end
local wanted = nil
if #ARGV > 5 then
  wanted = {}
  for k = 6, #ARGV do wanted[ARGV[k]] = true end
end
local function matches(json)
  if wanted == nil then return true end
  local ok, row = pcall(cjson.decode, json)
  return ok and type(row) == 'table' and wanted[row.outcome] == true
end
local out = {}
local pageSize = wanted == nil and math.min(limit, 1000) or 1000
local offset = 0
while #out < limit do
  local page
  if byJob then
    page = redis.call('ZREVRANGEBYLEX', historyJobsKey, high, low, 'LIMIT', offset, pageSize)
  else
    page = redis.call('ZREVRANGEBYSCORE', historyTimeKey, high, low, 'LIMIT', offset, pageSize)
  end
  for _, member in ipairs(page) do
    local seq
    if byJob then seq = string.sub(member, -SEQ_DIGITS) else seq = string.sub(member, 1, SEQ_DIGITS) end
    local json = redis.call('HGET', historyKey, seq)
    if json and matches(json) then
      out[#out + 1] = json
      if #out >= limit then break end
    end
  end
  if #page < pageSize then break end
  offset = offset + pageSize
end
return out
`),

  /**
   * ARGV: before ('' = no age limit), most rows per job ('' = no such limit), batch. Deletes up
   * to batch history rows: those that finished before `before` (oldest first), then, job by
   * job in the byjob set, the oldest rows of a job beyond its newest maxPerJob. Returns how
   * many it deleted.
   */
  pruneRuns: script(`
local batch = tonumber(ARGV[3])
local deleted = 0
local function dropRow(seq, time, tag)
  redis.call('HDEL', historyKey, seq)
  redis.call('ZREM', historyTimeKey, seq .. time .. tag)
  redis.call('ZREM', historyJobsKey, tag .. time .. seq)
  deleted = deleted + 1
end
if ARGV[1] ~= '' then
  local old = redis.call('ZRANGEBYSCORE', historyTimeKey, '-inf', '(' .. ARGV[1], 'LIMIT', 0, batch)
  for _, member in ipairs(old) do
    local seq = string.sub(member, 1, SEQ_DIGITS)
    local time = string.sub(member, SEQ_DIGITS + 1, SEQ_DIGITS + TIME_DIGITS)
    dropRow(seq, time, string.sub(member, SEQ_DIGITS + TIME_DIGITS + 1))
  end
end
if ARGV[2] ~= '' then
  local keep = tonumber(ARGV[2])
  local cursor = '-'
  while deleted < batch do
    local first = redis.call('ZRANGEBYLEX', historyJobsKey, cursor, '+', 'LIMIT', 0, 1)
    if #first == 0 then break end
    local tag = tagOf(first[1])
    if not tag then
      cursor = '(' .. first[1]
    else
      local low, high = '[' .. tag, '(' .. tag .. TAG_END
      local count = redis.call('ZLEXCOUNT', historyJobsKey, low, high)
      if count > keep then
        local excess = redis.call('ZRANGEBYLEX', historyJobsKey, low, high, 'LIMIT', 0,
          math.min(count - keep, batch - deleted))
        for _, member in ipairs(excess) do
          local rest = string.sub(member, #tag + 1)
          dropRow(string.sub(rest, -SEQ_DIGITS), string.sub(rest, 1, TIME_DIGITS), tag)
        end
      end
      cursor = high
    end
  end
end
return deleted
`),

  /**
   * ARGV: owner, then pairs of (job id, run time). Gives up those of these claims that owner
   * holds: claims of a release whose reply was lost, for runs that were never started. Their
   * expiry becomes -inf, which renewal skips, so the next look for abandoned runs reports them.
   */
  giveUpClaims: script(`
for i = 2, #ARGV, 2 do
  local key = ARGV[i + 1] .. ':' .. ARGV[i]
  if redis.call('HGET', runsKey, key) == ARGV[1] then
    redis.call('ZADD', runUntilKey, 'XX', '-inf', key)
  end
end
return 1
`),

  /**
   * ARGV: owner, then ids of `takeRetries` calls whose reply was lost. Gives up the claims those
   * calls made for owner (runs that were never started), as `giveUpClaims` does.
   */
  giveUpTaken: script(`
local calls = {}
for k = 2, #ARGV do calls[ARGV[k]] = true end
local flat = redis.call('HGETALL', runTakerKey)
for i = 1, #flat, 2 do
  if calls[flat[i + 1]] then
    if redis.call('HGET', runsKey, flat[i]) == ARGV[1] then
      redis.call('ZADD', runUntilKey, 'XX', '-inf', flat[i])
    end
    redis.call('HDEL', runTakerKey, flat[i])
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
   * for the caller to report and then complete; returns flat (job id, run time, owner, attempt).
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
    out[#out + 1] = claimAttempt(key)
  end
end
return out
`),
} as const;

/** The name of a store operation's script. */
export type ScriptName = keyof typeof SCRIPTS;
