/**
 * The dashboard page: HTML, one script and one style sheet, served by the handler (no build
 * step, no framework). Every value from the scheduler is set with `textContent`, never parsed as
 * HTML, and the Content-Security-Policy allows no inline script.
 */

/** The page; `__BASE__`, `__CSRF__` and `__READONLY__` are filled in per dashboard. */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="tickwork-base" content="__BASE__">
<meta name="tickwork-csrf" content="__CSRF__">
<meta name="tickwork-read-only" content="__READONLY__">
<title>tickwork</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="__BASE__style.css">
<script src="__BASE__app.js" defer></script>
</head>
<body>
<header><a href="#/" class="brand">tickwork</a><nav><a href="#/" id="nav-jobs">Jobs</a> <a href="#/runs" id="nav-runs">Runs</a></nav><span id="status" role="status"></span></header>
<main id="main"></main>
</body>
</html>
`;

/** The style sheet. */
export const STYLE_CSS = `:root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --accent: #2563eb; --bad: #b91c1c; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; }
header { display: flex; gap: 1rem; align-items: baseline; padding: .75rem 1.25rem; border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; font-size: 1.1rem; color: inherit; text-decoration: none; }
#status { color: var(--muted); font-size: .85rem; }
main { padding: 1rem 1.25rem; }
.toolbar { display: flex; gap: .75rem; align-items: center; margin-bottom: .75rem; flex-wrap: wrap; }
input[type=search], select { font: inherit; padding: .3rem .5rem; border: 1px solid var(--line); border-radius: 4px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); }
td:first-child, .actions { white-space: nowrap; }
td.time small, .muted { color: var(--muted); }
a { color: var(--accent); }
button { font: inherit; padding: .2rem .6rem; border: 1px solid var(--line); border-radius: 4px; background: transparent; color: inherit; cursor: pointer; }
button.danger { color: var(--bad); border-color: var(--bad); }
.badge { font-size: .75rem; padding: .05rem .4rem; border-radius: 999px; border: 1px solid var(--line); }
.badge.paused { color: var(--muted); }
.badge.broken, .badge.error, .badge.timeout, .badge.abandoned { color: var(--bad); border-color: var(--bad); }
.badge.success { color: #15803d; border-color: #15803d; }
.badge.missed, .badge.max_instances { color: #b45309; border-color: #b45309; }
nav a { margin-right: .6rem; }
nav a.current { font-weight: 600; color: inherit; text-decoration: none; }
details summary { cursor: pointer; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
dt { color: var(--muted); }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; }
.error { color: var(--bad); }
`;

/**
 * The script: a jobs table with a filter, a job page (next runs, recent history), a runs page
 * (failures first), actions; it refreshes every 2 s, keeping the filters.
 */
export const APP_JS = `'use strict';
(() => {
  const meta = (name) => document.querySelector('meta[name="' + name + '"]').content;
  const base = meta('tickwork-base');
  const csrf = meta('tickwork-csrf');
  const readOnly = meta('tickwork-read-only') === 'true';
  const main = document.getElementById('main');
  const status = document.getElementById('status');
  const state = { filter: '', show: 'all', outcome: '' };
  const FAILURES = ['error', 'timeout', 'abandoned', 'missed', 'max_instances'];
  const openStacks = new Set();
  const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === 'class') node.className = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function formatIn(iso, zone) {
    try {
      return new Intl.DateTimeFormat('sv-SE', {
        timeZone: zone || undefined, year: 'numeric', month: '2-digit', day: '2-digit',
        hour: '2-digit', minute: '2-digit', second: '2-digit',
      }).format(new Date(iso));
    } catch {
      return iso;
    }
  }

  function timeCell(iso, zone) {
    if (iso === null) return el('span', { class: 'muted' }, '—');
    const jobZone = zone || 'UTC';
    const own = formatIn(iso, jobZone) + ' ' + jobZone;
    const local = formatIn(iso, viewerZone) + ' ' + viewerZone;
    return el('span', { title: iso }, own, jobZone === viewerZone ? null : el('br'), jobZone === viewerZone ? null : el('small', {}, local));
  }

  async function call(method, path) {
    const headers = method === 'GET' ? {} : { 'x-tickwork-csrf': csrf };
    const response = await fetch(base + 'api/' + path, { method, headers, credentials: 'same-origin' });
    const body = await response.json();
    if (!response.ok) throw new Error(body && body.error ? body.error.message : 'HTTP ' + response.status);
    return body;
  }

  function jobPath(job, action) {
    return 'jobs/' + encodeURIComponent(job.id) + (action ? '/' + action : '') + '?jobstore=' + encodeURIComponent(job.jobstore);
  }

  // Jobs being removed: their page is not fetched again (it would answer 404).
  const removing = new Set();

  async function act(job, action) {
    if (action === 'remove' && !window.confirm('Remove job ' + job.id + '?')) return;
    if (action === 'remove') {
      removing.add(job.id);
      if (location.hash.startsWith('#/job/')) location.hash = '#/';
    }
    try {
      await call(action === 'remove' ? 'DELETE' : 'POST', jobPath(job, action === 'remove' ? null : action));
      status.textContent = (action === 'run' ? 'run queued' : action) + ': ' + job.id;
      render();
    } catch (error) {
      removing.delete(job.id);
      status.textContent = action + ' failed: ' + error.message;
    }
  }

  function actions(job) {
    if (readOnly) return null;
    return el('span', { class: 'actions' },
      job.paused
        ? el('button', { onclick: () => act(job, 'resume'), 'data-action': 'resume' }, 'Resume')
        : el('button', { onclick: () => act(job, 'pause'), 'data-action': 'pause' }, 'Pause'),
      ' ',
      job.paused ? null : el('button', { onclick: () => act(job, 'run'), 'data-action': 'run', title: 'Run once now, outside the schedule' }, 'Run now'),
      job.paused ? null : ' ',
      el('button', { class: 'danger', onclick: () => act(job, 'remove'), 'data-action': 'remove' }, 'Remove'));
  }

  function badges(job) {
    return [
      job.paused ? el('span', { class: 'badge paused' }, 'paused') : null,
      job.broken ? el('span', { class: 'badge broken', title: job.broken }, 'broken') : null,
    ];
  }

  function outcomeBadge(outcome) {
    return el('span', { class: 'badge ' + outcome, 'data-outcome': outcome }, outcome.replace('_', ' '));
  }

  function duration(run) {
    if (run.durationMs === null) return el('span', { class: 'muted' }, '—');
    const ms = run.durationMs;
    return ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
  }

  function errorCell(run) {
    if (!run.error) return null;
    const head = run.error.name + ': ' + run.error.message;
    if (!run.error.stack) return el('span', { class: 'error' }, head);
    // Stays open across refreshes.
    const key = run.jobstore + ' ' + run.jobId + ' ' + run.scheduledRunTime + ' ' + run.attempt;
    const details = el('details', {}, el('summary', { class: 'error' }, head), el('pre', {}, run.error.stack));
    details.open = openStacks.has(key);
    details.addEventListener('toggle', () => { if (details.open) openStacks.add(key); else openStacks.delete(key); });
    return details;
  }

  function runsTable(runs, withJob, zone) {
    const head = ['finished', ...(withJob ? ['job'] : []), 'outcome', 'attempt', 'for', 'took', 'error'];
    return el('table', { id: 'runs' },
      el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))),
      el('tbody', {}, ...runs.map((run) => el('tr', { 'data-outcome': run.outcome },
        el('td', { class: 'time' }, timeCell(run.finishedAt, zone)),
        withJob ? el('td', {}, el('a', { href: '#/job/' + encodeURIComponent(run.jobId) }, run.jobId)) : null,
        el('td', {}, outcomeBadge(run.outcome)),
        el('td', {}, String(run.attempt)),
        el('td', { class: 'time' }, timeCell(run.scheduledRunTime, zone)),
        el('td', {}, duration(run)),
        el('td', {}, errorCell(run))))));
  }

  function matches(job) {
    if (state.show === 'paused' && !job.paused) return false;
    if (state.show === 'scheduled' && job.paused) return false;
    if (state.show === 'broken' && !job.broken) return false;
    const text = state.filter.trim().toLowerCase();
    if (text === '') return true;
    return [job.id, job.name, job.description, job.task || ''].some((v) => v.toLowerCase().includes(text));
  }

  let toolbar = null;
  function jobsToolbar() {
    if (toolbar !== null) return toolbar;
    const search = el('input', { type: 'search', placeholder: 'Filter by id, name, trigger', 'aria-label': 'Filter jobs', id: 'filter' });
    search.value = state.filter;
    search.addEventListener('input', () => { state.filter = search.value; render(); });
    const show = el('select', { 'aria-label': 'Show', id: 'show' },
      el('option', { value: 'all' }, 'all jobs'), el('option', { value: 'scheduled' }, 'scheduled'),
      el('option', { value: 'paused' }, 'paused'), el('option', { value: 'broken' }, 'broken'));
    show.value = state.show;
    show.addEventListener('change', () => { state.show = show.value; render(); });
    toolbar = el('div', { class: 'toolbar' }, search, show, el('span', { id: 'count', class: 'muted' }));
    return toolbar;
  }

  async function renderJobs() {
    const { jobs } = await call('GET', 'jobs');
    const shown = jobs.filter(matches);
    const bar = jobsToolbar();
    bar.querySelector('#count').textContent = shown.length + ' of ' + jobs.length + ' jobs';
    const rows = shown.map((job) => el('tr', { 'data-job-id': job.id },
      el('td', {}, el('a', { href: '#/job/' + encodeURIComponent(job.id) }, job.id), ' ', ...badges(job)),
      el('td', {}, job.name),
      el('td', {}, job.description),
      el('td', { class: 'time' }, timeCell(job.nextRunTime, job.timezone)),
      el('td', { class: 'last-run' }, job.lastRun ? outcomeBadge(job.lastRun.outcome) : el('span', { class: 'muted' }, '—'),
        job.lastRun ? el('br') : null, job.lastRun ? el('small', { class: 'muted', title: job.lastRun.finishedAt }, formatIn(job.lastRun.finishedAt, viewerZone)) : null),
      el('td', {}, actions(job))));
    const table = el('table', { id: 'jobs' },
      el('thead', {}, el('tr', {}, el('th', {}, 'id'), el('th', {}, 'name'), el('th', {}, 'trigger'), el('th', {}, 'next run'), el('th', {}, 'last run'), el('th', {}, ''))),
      el('tbody', {}, ...rows));
    if (!main.contains(bar)) main.replaceChildren(bar);
    const old = document.getElementById('jobs');
    if (old) old.replaceWith(table); else main.append(table);
  }

  async function renderJob(id) {
    toolbar = null;
    const { job } = await call('GET', 'jobs/' + encodeURIComponent(id));
    const field = (name, value) => [el('dt', {}, name), el('dd', {}, value)];
    main.replaceChildren(
      el('p', {}, el('a', { href: '#/' }, '← all jobs')),
      el('h1', {}, job.name, ' ', ...badges(job)),
      el('dl', {},
        ...field('id', job.id),
        ...field('trigger', job.description),
        ...field('as written', job.trigger),
        ...field('task', job.task || '(function)'),
        ...field('args', el('pre', {}, JSON.stringify(job.args))),
        ...field('store / executor', job.jobstore + ' / ' + job.executor),
        ...field('misfire grace, coalesce, max instances', String(job.misfireGraceTime) + ' s, ' + job.coalesce + ', ' + job.maxInstances),
        ...(job.broken ? field('broken', el('span', { class: 'error' }, job.broken)) : [])),
      el('p', {}, actions(job)),
      el('h2', {}, 'Next runs'),
      job.nextRunTimes.length === 0
        ? el('p', { class: 'muted' }, job.paused ? 'Paused.' : 'No runs left.')
        : el('ol', { id: 'next-runs' }, ...job.nextRunTimes.map((t) => el('li', {}, timeCell(t, job.timezone)))),
      el('h2', {}, 'Recent runs'),
      job.runs.length === 0 ? el('p', { class: 'muted', id: 'no-runs' }, 'No runs recorded.') : runsTable(job.runs, false, job.timezone));
  }

  let runsBar = null;
  function runsToolbar() {
    if (runsBar !== null) return runsBar;
    const pick = el('select', { 'aria-label': 'Outcome', id: 'outcome' },
      el('option', { value: '' }, 'all runs, failures first'),
      el('option', { value: FAILURES.join(',') }, 'failures only'),
      ...['success', ...FAILURES].map((o) => el('option', { value: o }, o.replace('_', ' '))));
    pick.value = state.outcome;
    pick.addEventListener('change', () => { state.outcome = pick.value; render(); });
    runsBar = el('div', { class: 'toolbar' }, pick, el('span', { id: 'runs-count', class: 'muted' }));
    return runsBar;
  }

  async function renderRuns() {
    toolbar = null;
    const query = 'runs?limit=500' + (state.outcome ? '&outcome=' + encodeURIComponent(state.outcome) : '');
    const { runs } = await call('GET', query);
    // Failures first, each group newest first.
    const failed = runs.filter((r) => r.outcome !== 'success');
    const ordered = failed.concat(runs.filter((r) => r.outcome === 'success'));
    const bar = runsToolbar();
    bar.querySelector('#runs-count').textContent = runs.length + ' runs, ' + failed.length + ' not successful';
    const table = runsTable(ordered, true, null);
    if (!main.contains(bar)) main.replaceChildren(el('h1', {}, 'Runs'), bar);
    const old = document.getElementById('runs');
    if (old) old.replaceWith(table); else main.append(table);
  }

  let rendering = false;
  async function render() {
    if (rendering) return;
    rendering = true;
    try {
      const hash = location.hash;
      const id = hash.startsWith('#/job/') ? decodeURIComponent(hash.slice(6)) : null;
      document.getElementById('nav-jobs').className = hash === '#/runs' ? '' : 'current';
      document.getElementById('nav-runs').className = hash === '#/runs' ? 'current' : '';
      if (hash === '#/runs') await renderRuns();
      else if (id !== null && !removing.has(id)) { runsBar = null; await renderJob(id); }
      else { runsBar = null; await renderJobs(); }
      status.textContent = status.textContent.startsWith('refresh failed') ? '' : status.textContent;
    } catch (error) {
      status.textContent = 'refresh failed: ' + error.message;
    } finally {
      rendering = false;
    }
  }

  window.addEventListener('hashchange', () => { toolbar = null; runsBar = null; render(); });
  setInterval(render, 2000);
  render();
})();
`;
