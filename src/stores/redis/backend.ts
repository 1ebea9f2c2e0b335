/**
 * The StoreBackend of RedisJobStore: each operation is one Lua script from `scripts.ts` (which
 * also documents the key layout), sent with EVALSHA and, when the server does not know the
 * script yet (first use, or a restarted server), with EVAL.
 *
 * Over 400 lines because it implements the whole `StoreBackend` contract (jobs, leases, run claims,
 * history, retries, migrations, hints) for one database; each operation is a short method.
 */
import { createHash } from 'node:crypto';
import { SchemaVersionError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { clock, type TimerHandle } from '../../time/clock.js';
import type {
  AcquiredRow,
  FinishedRunRow,
  QueueRunResult,
  ReleaseRow,
  RetryRow,
  RunClaim,
  RunKey,
  RunOutcomeName,
  RunQueryRow,
  RunRecordRow,
  StoreBackend,
  TakenRetry,
} from '../backend.js';
import type { JobRow } from '../state.js';
import {
  KEY_NAMES,
  MIGRATIONS,
  SCHEMA_VERSION,
  SCRIPTS,
  type ScriptName,
  TIME_DIGITS,
  TIME_OFFSET,
} from './scripts.js';

/** The part of an ioredis client (v5 or later) that RedisJobStore uses. */
export interface RedisClientLike {
  /** Sends one command and resolves to its reply (ioredis `call`). */
  call(command: string, ...args: Array<string | number>): Promise<unknown>;
  /** A new connection with the same options, not yet connected (for the wake-up channel). */
  duplicate(override: { lazyConnect: boolean }): RedisSubscriberLike;
}

/** The part of an ioredis connection that listens on a pub/sub channel. */
export interface RedisSubscriberLike {
  /** Connects (the connection was made with `lazyConnect`). */
  connect(): Promise<void>;
  /** Subscribes to a channel. */
  subscribe(channel: string): Promise<unknown>;
  /** Receives the channel's messages. */
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  /** Receives connection errors. */
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Closes the connection at once and stops reconnecting. */
  disconnect(): void;
}

/** A connection the store made itself: it connects it and quits it. */
export interface OwnedRedisClient extends RedisClientLike {
  connect(): Promise<void>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** How a RedisBackend reaches its server. */
export interface RedisBackendOptions {
  client: RedisClientLike;
  /** Set when the store made the client: it is connected at open and quit at close. */
  owned: OwnedRedisClient | null;
  keyPrefix: string;
  /** This store instance's random token: its own wake-up messages carry it and are ignored. */
  instanceToken: string;
  logger: Logger;
}

// How many leased jobs `nextRunTime` looks past before answering early.
const LEASED_SCAN_LIMIT = 100;
// Arguments per `release` call: a huge pass is sent in a few calls (each release stays atomic).
const RELEASE_ARGS_PER_CALL = 50_000;
// Rows per `insert` call: arguments stay well below what one call may spread.
const INSERT_ROWS_PER_CALL = 10_000;
// How long close() waits for QUIT before dropping the connection.
const QUIT_TIMEOUT_MS = 2_000;

// Characters of the release script's reply.
const DASH = '-'.charCodeAt(0);
const ONE = '1'.charCodeAt(0);

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

interface LoadedScript {
  lua: string;
  sha: string;
}

function load(lua: string): LoadedScript {
  return { lua, sha: sha1(lua) };
}

const LOADED = Object.fromEntries(Object.entries(SCRIPTS).map(([name, lua]) => [name, load(lua)])) as Record<
  ScriptName,
  LoadedScript
>;
const LOADED_MIGRATIONS = MIGRATIONS.map(load);

function asArray(reply: unknown, what: string): unknown[] {
  if (!Array.isArray(reply)) throw new TypeError(`Unexpected Redis reply to ${what}: ${String(reply)}`);
  return reply;
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

function asTime(value: unknown): number | null {
  return value === null || value === undefined || value === false ? null : Number(asText(value));
}

/** A script's flat reply cut into records of `width` values each. */
function recordsOf(reply: unknown, what: string, width: number): unknown[][] {
  const flat = asArray(reply, what);
  const records: unknown[][] = [];
  for (let i = 0; i + width - 1 < flat.length; i += width) records.push(flat.slice(i, i + width));
  return records;
}

/** A job's row from a record that starts (id, next run time or nil, state). */
const jobRowOf = (r: unknown[]): JobRow => ({
  id: asText(r[0]),
  nextRunTime: asTime(r[1]),
  state: asText(r[2]),
});

/** A claim from a record (job id, run time, scheduler id, attempt). */
const runClaimOf = (r: unknown[]): RunClaim => ({
  jobId: asText(r[0]),
  runTime: Number(asText(r[1])),
  attempt: Number(asText(r[3])),
  schedulerId: asText(r[2]),
});

/** A taken retry from a record (job id, next run time or nil, state, run time, attempt, due time). */
const takenRetryOf = (r: unknown[]): TakenRetry => ({
  row: jobRowOf(r),
  runTime: Number(asText(r[3])),
  attempt: Number(asText(r[4])),
  dueAt: Number(asText(r[5])),
});

// Redis orders equal scores by the bytes of the member: paused jobs are sorted the same way.
function byBytes(a: JobRow, b: JobRow): number {
  return Buffer.compare(Buffer.from(a.id, 'utf8'), Buffer.from(b.id, 'utf8'));
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

const timeArg = (ms: number | null) => (ms === null ? '' : String(ms));

/** A score bound: infinities as Redis spells them. */
function scoreArg(ms: number): string {
  if (ms === Number.POSITIVE_INFINITY) return '+inf';
  if (ms === Number.NEGATIVE_INFINITY) return '-inf';
  return String(ms);
}

/**
 * `<time>` of a history member: whole milliseconds plus TIME_OFFSET in TIME_DIGITS digits, so
 * that byte order is time order (times beyond a JavaScript date's span are clamped to it).
 */
function lexTime(ms: number): string {
  const clamped = Math.floor(Math.min(Math.max(ms, -TIME_OFFSET), TIME_OFFSET));
  const sum = clamped + TIME_OFFSET;
  // Exact in a double up to 2^53 (every date up to about the year 13,600); BigInt past it.
  const digits =
    sum <= Number.MAX_SAFE_INTEGER ? String(sum) : (BigInt(clamped) + BigInt(TIME_OFFSET)).toString();
  return digits.padStart(TIME_DIGITS, '0');
}

/** The history row as stored: its fields only, in a fixed order. */
function recordJson(r: RunRecordRow): string {
  return JSON.stringify({
    jobId: r.jobId,
    jobName: r.jobName,
    scheduledRunTime: r.scheduledRunTime,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    outcome: r.outcome,
    error: r.error,
    retval: r.retval,
    attempt: r.attempt,
    schedulerId: r.schedulerId,
  });
}

/** A stored history row, or `null` when the text is not one this code wrote. */
function runRecordOf(text: string): RunRecordRow | null {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(text);
  } catch {
    return null;
  }
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.jobId !== 'string' ||
    typeof r.finishedAt !== 'number'
  ) {
    return null;
  }
  return {
    jobId: r.jobId,
    jobName: r.jobName as string,
    scheduledRunTime: r.scheduledRunTime as number,
    startedAt: r.startedAt as number | null,
    finishedAt: r.finishedAt,
    outcome: r.outcome as RunOutcomeName,
    error: r.error as string | null,
    retval: r.retval as string | null,
    attempt: r.attempt as number,
    schedulerId: r.schedulerId as string,
  };
}

/** A StoreBackend on one Redis server (or one hash slot of a cluster, with a `{tag}` prefix). */
export class RedisBackend implements StoreBackend {
  readonly #client: RedisClientLike;
  readonly #owned: OwnedRedisClient | null;
  readonly #keys: string[];
  readonly #channel: string;
  readonly #token: string;
  readonly #logger: Logger;
  #subscriber: RedisSubscriberLike | null = null;

  constructor(options: RedisBackendOptions) {
    this.#client = options.client;
    this.#owned = options.owned;
    this.#keys = KEY_NAMES.map((name) => `${options.keyPrefix}${name}`);
    this.#channel = `${options.keyPrefix}changes`;
    this.#token = options.instanceToken;
    this.#logger = options.logger;
  }

  async #eval(script: LoadedScript, args: Array<string | number>): Promise<unknown> {
    const keys = this.#keys;
    try {
      return await this.#client.call('EVALSHA', script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return this.#client.call('EVAL', script.lua, keys.length, ...keys, ...args);
    }
  }

  #run(name: ScriptName, args: Array<string | number>): Promise<unknown> {
    return this.#eval(LOADED[name], args);
  }

  /** Connects (a client the store made) and brings the layout to this code's version. */
  async open(): Promise<void> {
    try {
      await this.#owned?.connect();
      await this.#loadScripts();
      await this.#migrate();
      await this.#checkEviction();
    } catch (error) {
      // start() fails, so nothing will call close(): stop the client's reconnect attempts now.
      this.#owned?.disconnect();
      throw error;
    }
  }

  async #migrate(): Promise<void> {
    const versionKey = this.#keys[this.#keys.length - 1];
    let version = this.#readVersion(await this.#client.call('GET', versionKey), versionKey);
    while (version < SCHEMA_VERSION) {
      const reached = Number(await this.#eval(LOADED_MIGRATIONS[version], [version, version + 1]));
      // Another process may have migrated meanwhile: continue from where the store is now.
      version = this.#readVersion(reached, versionKey);
    }
  }

  #readVersion(reply: unknown, key: string): number {
    if (reply === null || reply === undefined) return 0;
    const text = asText(reply);
    const version = Number(text);
    if (!Number.isInteger(version) || version < 0) {
      throw new Error(
        `RedisJobStore: key ${JSON.stringify(key)} holds ${JSON.stringify(text)}, not a schema version`,
      );
    }
    if (version > SCHEMA_VERSION) {
      throw new SchemaVersionError(
        `RedisJobStore: key ${JSON.stringify(key)} says the store has schema version ${version}, newer than the ${SCHEMA_VERSION} this tickwork knows; upgrade tickwork or use another keyPrefix`,
        version,
        SCHEMA_VERSION,
      );
    }
    return version;
  }

  /** Stops listening, and quits the client if the store made it. */
  async close(): Promise<void> {
    const subscriber = this.#subscriber;
    this.#subscriber = null;
    subscriber?.disconnect();
    const owned = this.#owned;
    if (owned === null) return;
    let timer: TimerHandle = null;
    const timeout = new Promise<void>((resolve) => {
      timer = clock.setTimeout(resolve, QUIT_TIMEOUT_MS, true);
    });
    // QUIT lets replies under way arrive; a server that does not answer is dropped.
    await Promise.race([owned.quit().catch(() => undefined), timeout]);
    clock.clearTimeout(timer);
    owned.disconnect();
  }

  async get(id: string): Promise<JobRow | null> {
    const reply = await this.#run('get', [id]);
    if (reply === null || reply === undefined) return null;
    const [state, next] = asArray(reply, 'get');
    return jobRowOf([id, next, state]);
  }

  async all(): Promise<JobRow[]> {
    const rows = recordsOf(await this.#run('all', []), 'all', 3).map(jobRowOf);
    const firstPaused = rows.findIndex((r) => r.nextRunTime === null);
    if (firstPaused < 0) return rows;
    return rows.slice(0, firstPaused).concat(rows.slice(firstPaused).sort(byBytes));
  }

  async due(now: number): Promise<JobRow[]> {
    return recordsOf(await this.#run('due', [now]), 'due', 3).map(jobRowOf);
  }

  async nextRunTime(now: number): Promise<number | null> {
    return asTime(await this.#run('nextRunTime', [now, LEASED_SCAN_LIMIT]));
  }

  async insert(row: JobRow): Promise<boolean> {
    const [inserted] = await this.insertMany([row]);
    return inserted;
  }

  async insertMany(rows: JobRow[]): Promise<boolean[]> {
    const inserted: boolean[] = [];
    // Each call is atomic. A store's batch (at most 1,000 rows) is one call; only a larger
    // input is split, and a failure then may leave the earlier calls' rows added.
    for (let start = 0; start < rows.length; start += INSERT_ROWS_PER_CALL) {
      const args: string[] = [];
      for (const row of rows.slice(start, start + INSERT_ROWS_PER_CALL)) {
        args.push(row.id, row.state, timeArg(row.nextRunTime));
      }
      for (const flag of asArray(await this.#run('insert', args), 'insert'))
        inserted.push(Number(flag) === 1);
    }
    return inserted;
  }

  async update(row: JobRow): Promise<boolean> {
    return Number(await this.#run('update', [row.id, row.state, timeArg(row.nextRunTime)])) === 1;
  }

  async remove(id: string): Promise<boolean> {
    return Number(await this.#run('remove', [id])) === 1;
  }

  async removeAll(): Promise<void> {
    await this.#run('removeAll', []);
  }

  async acquire(
    owner: string,
    now: number,
    leaseUntil: number,
    limit: number,
    skip: readonly string[] = [],
    retakeOwn = false,
  ): Promise<AcquiredRow[]> {
    const reply = await this.#run('acquire', [owner, now, leaseUntil, limit, retakeOwn ? '1' : '0', ...skip]);
    return recordsOf(reply, 'acquire', 4).map((r) => {
      // jobRowOf's row with the token added in place: a spread copy cost about 1.5 µs a row on Node 20.
      const row = jobRowOf(r) as AcquiredRow;
      row.token = Number(r[3]);
      return row;
    });
  }

  async release(owner: string, releases: ReleaseRow[], claimUntil: number): Promise<Array<boolean[] | null>> {
    const applied: Array<boolean[] | null> = [];
    let args: Array<string | number> = [];
    const send = async () => {
      // A call that fails leaves the earlier calls applied: the store gives up the claims of
      // every release of the list, which nobody runs once the whole release fails.
      // One entry per release, each followed by a comma: '-' (not applied) or a digit per run time.
      const reply = asText(await this.#run('release', [owner, claimUntil, ...args]));
      const expected = applied.length + args.length / 2;
      let start = 0;
      for (let end = reply.indexOf(',', start); end !== -1; end = reply.indexOf(',', start)) {
        if (reply.charCodeAt(start) === DASH) {
          applied.push(null);
        } else {
          const flags: boolean[] = [];
          for (let i = start; i < end; i++) flags.push(reply.charCodeAt(i) === ONE);
          applied.push(flags);
        }
        start = end + 1;
      }
      if (applied.length !== expected || start !== reply.length) {
        throw new TypeError(`Unexpected Redis reply to release: ${JSON.stringify(reply.slice(0, 100))}`);
      }
      args = [];
    };
    for (const r of releases) {
      const action = r.remove ? 'r' : r.nextRunTime === null ? 'p' : 'n';
      let packed = `${r.token},${action},${timeArg(r.nextRunTime)},`;
      for (const t of r.runTimes) packed += `${t},`;
      args.push(r.id, packed);
      if (args.length >= RELEASE_ARGS_PER_CALL) await send();
    }
    if (args.length > 0) await send();
    return applied;
  }

  /** Gives up those claims of `owner` (expiry -inf: before any time, and skipped by renewal). */
  async giveUpClaims(owner: string, runs: readonly RunKey[]): Promise<void> {
    if (runs.length === 0) return;
    const args: Array<string | number> = [owner];
    for (const r of runs) args.push(r.jobId, r.runTime);
    await this.#run('giveUpClaims', args);
  }

  /** Gives up the claims of `owner` that the named `takeRetries` calls made (P`runs:taker`). */
  async giveUpTaken(owner: string, callIds: readonly string[]): Promise<void> {
    if (callIds.length === 0) return;
    await this.#run('giveUpTaken', [owner, ...callIds]);
  }

  async completeRuns(runs: FinishedRunRow[]): Promise<void> {
    if (runs.length === 0) return;
    // Per run: the job id, the numbers and flags packed in one argument, then the strings the
    // flags announce (the SCRIPTS.completeRuns layout).
    const args: string[] = [];
    for (const { jobId, runTime, attempt, record, retry } of runs) {
      const rowFlag = record === undefined ? '' : record.jobId === jobId ? '=' : '+';
      const retryFlag = retry === undefined ? '' : retry.jobId === jobId ? '=' : '+';
      const row = record === undefined ? ',' : `${record.finishedAt},${lexTime(record.finishedAt)}`;
      const next = retry === undefined ? ',,' : `${retry.runTime},${retry.attempt},${retry.dueAt}`;
      args.push(jobId, `${runTime},${attempt},${rowFlag},${row},${retryFlag},${next},`);
      if (record !== undefined) {
        if (rowFlag === '+') args.push(record.jobId);
        args.push(recordJson(record));
      }
      if (retry !== undefined) {
        if (retryFlag === '+') args.push(retry.jobId);
        args.push(retry.state ?? '');
      }
    }
    await this.#run('completeRuns', args);
  }

  async queueRun(row: RetryRow): Promise<QueueRunResult> {
    const reply = asText(await this.#run('queueRun', [row.jobId, row.runTime, row.attempt, row.dueAt]));
    if (reply === 'queued' || reply === 'exists' || reply === 'no_job' || reply === 'paused') return reply;
    throw new Error(`Unexpected reply of the queueRun script: ${JSON.stringify(reply)}`);
  }

  async takeRetries(
    owner: string,
    now: number,
    claimUntil: number,
    limit: number,
    skip: readonly string[] = [],
    callId = '',
  ): Promise<TakenRetry[]> {
    if (limit <= 0) return [];
    const reply = await this.#run('takeRetries', [owner, now, claimUntil, limit, callId, ...skip]);
    return recordsOf(reply, 'takeRetries', 6).map(takenRetryOf);
  }

  async latestRuns(jobIds: readonly string[]): Promise<RunRecordRow[]> {
    if (jobIds.length === 0) return [];
    const rows: RunRecordRow[] = [];
    for (const entry of asArray(await this.#run('latestRuns', [...jobIds]), 'latestRuns')) {
      const text = asText(entry);
      if (text === '') continue;
      const row = runRecordOf(text);
      if (row === null) {
        this.#logger.warn(
          { value: text.slice(0, 200) },
          'RedisJobStore: a run history row is not one this code wrote; skipped',
        );
        continue;
      }
      rows.push(row);
    }
    return rows;
  }

  async runs(query: RunQueryRow): Promise<RunRecordRow[]> {
    const limit = Math.min(Math.floor(query.limit), Number.MAX_SAFE_INTEGER);
    if (!(limit > 0) || query.outcomes?.length === 0) return [];
    const args: Array<string | number> = [limit];
    if (query.jobId === undefined) {
      args.push('all', '', scoreArg(query.since ?? -Infinity), scoreArg(query.until ?? Infinity));
    } else {
      // Member times are whole milliseconds: the bounds are rounded inwards.
      const since = query.since === undefined ? '' : lexTime(Math.ceil(query.since));
      const until = query.until === undefined ? '' : lexTime(Math.floor(query.until));
      args.push('job', query.jobId, since, until);
    }
    if (query.outcomes !== undefined) args.push(...query.outcomes);
    const rows: RunRecordRow[] = [];
    for (const entry of asArray(await this.#run('runs', args), 'runs')) {
      const row = runRecordOf(asText(entry));
      if (row === null) {
        this.#logger.warn(
          { value: asText(entry).slice(0, 200) },
          'RedisJobStore: a run history row is not one this code wrote; skipped',
        );
        continue;
      }
      rows.push(row);
    }
    return rows;
  }

  async pruneRuns(before: number, maxPerJob: number, batch: number): Promise<number> {
    if (!(batch > 0)) return 0;
    const age = before === Number.NEGATIVE_INFINITY ? '' : scoreArg(before);
    const perJob = Number.isFinite(maxPerJob) ? Math.max(0, Math.floor(maxPerJob)) : '';
    return Number(await this.#run('pruneRuns', [age, perJob, Math.floor(batch)]));
  }

  async renewRuns(owner: string, until: number): Promise<void> {
    await this.#checkSchema();
    await this.#run('renewRuns', [owner, until]);
  }

  /**
   * At each heartbeat: a store whose schema key is gone was emptied (FLUSHALL, a restart without
   * persistence, eviction), and every job in it is lost. Said loudly, and the schema recreated.
   */
  async #checkSchema(): Promise<void> {
    const versionKey = this.#keys[this.#keys.length - 1];
    if ((await this.#client.call('GET', versionKey)) !== null) return;
    this.#logger.error(
      { key: versionKey },
      `RedisJobStore: key ${JSON.stringify(versionKey)} is gone: the store was emptied (FLUSHALL, a restart without persistence, or eviction) and every job in it is lost; recreating its schema`,
    );
    await this.#migrate();
  }

  /**
   * Loads the scripts and migrations into the server's script cache, so that the first pass sends
   * each by its SHA once instead of twice (a NOSCRIPT reply, then the whole script with a batch's
   * arguments again) and the server compiles them before the first fire rather than during it. A
   * script missing later (a server restarted or flushed, another node of a cluster) is still sent
   * whole on its NOSCRIPT reply (`#eval`), so a refusal here costs only that.
   */
  async #loadScripts(): Promise<void> {
    try {
      const scripts = [...LOADED_MIGRATIONS, ...Object.values(LOADED)];
      await Promise.all(scripts.map((script) => this.#client.call('SCRIPT', 'LOAD', script.lua)));
    } catch (error) {
      this.#logger.debug({ err: error }, 'RedisJobStore: cannot load the scripts ahead (SCRIPT LOAD)');
    }
  }

  /** Warns when Redis may evict keys: jobs would then vanish under memory pressure. */
  async #checkEviction(): Promise<void> {
    let policy: string;
    try {
      const reply = asArray(await this.#client.call('CONFIG', 'GET', 'maxmemory-policy'), 'CONFIG GET');
      policy = asText(reply[1]);
    } catch (error) {
      // Managed servers often refuse CONFIG: nothing to check then.
      this.#logger.debug({ err: error }, 'RedisJobStore: cannot read maxmemory-policy');
      return;
    }
    if (policy !== 'noeviction') {
      this.#logger.warn(
        { maxmemoryPolicy: policy },
        `RedisJobStore: maxmemory-policy is ${JSON.stringify(policy)}, not "noeviction": under memory pressure Redis may evict the store's keys and lose jobs`,
      );
    }
  }

  async takeAbandonedRuns(now: number, until: number): Promise<RunClaim[]> {
    const reply = await this.#run('takeAbandonedRuns', [now, until]);
    return recordsOf(reply, 'takeAbandonedRuns', 4).map(runClaimOf);
  }

  /** Subscribes a second connection to the store's channel; messages this store sent are ignored. */
  async listen(onChange: () => void): Promise<void> {
    const subscriber = this.#client.duplicate({ lazyConnect: true });
    subscriber.on('error', (error) => {
      this.#logger.debug(
        { err: error, channel: this.#channel },
        `RedisJobStore: wake-up channel ${this.#channel} connection error`,
      );
    });
    subscriber.on('message', (channel, message) => {
      if (channel === this.#channel && message !== this.#token) onChange();
    });
    try {
      await subscriber.connect();
      await subscriber.subscribe(this.#channel);
    } catch (error) {
      subscriber.disconnect();
      throw error;
    }
    this.#subscriber = subscriber;
  }

  /** Publishes a wake-up hint; a failure only delays other schedulers until their next poll. */
  notify(): void {
    try {
      this.#client.call('PUBLISH', this.#channel, this.#token).catch((error: unknown) => {
        this.#logger.debug(
          { err: error, channel: this.#channel },
          `RedisJobStore: wake-up hint on ${this.#channel} not sent`,
        );
      });
    } catch (error) {
      this.#logger.debug(
        { err: error, channel: this.#channel },
        `RedisJobStore: wake-up hint on ${this.#channel} not sent`,
      );
    }
  }
}
