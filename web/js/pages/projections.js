// Projections (admin): each projection with a Rebuild button and, once started, a live progress
// bar with rate and ETA (POST …/rebuild, then GET /api/admin/jobs/{id}); and the consistency
// check with its report, whose repair runs only after a confirmation.
import { api, every } from '../api.js';
import { badge, errorNote, fill, fmtInt, fmtRate, fmtSeconds, h, showError, table } from '../dom.js';

const JOB_POLL_MS = 250;
// Rebuild jobs by projection, kept across visits: coming back shows (and follows) them.
const jobs = new Map();  // name -> {job, fromGeneration, toGeneration?}

export function mount({ main, signal }) {
  const errors = h('div');
  const rows = new Map();  // name -> its row's live cells
  const tbody = h('tbody');
  const check = checkSection(signal);
  main.append(
    h('h1', {}, 'Projections'), errors,
    h('div', { class: 'table-wrap' }, h('table', { class: 'stack' },
      h('thead', {}, h('tr', {}, ['Projection', 'State', 'Generation', 'Checkpoint (seq)', 'Lag (events)', 'Rebuild']
        .map((label, i) => h('th', { scope: 'col', class: i >= 2 && i <= 4 ? 'num' : '' }, label)))),
      tbody)),
    check);

  const refresh = async () => {
    try {
      const { projections } = await api('/api/admin/projections', { signal });
      showError(errors, null);
      for (const p of projections) {
        if (!rows.has(p.name)) rows.set(p.name, addRow(tbody, p.name, signal, refresh));
        rows.get(p.name).update(p);
      }
    } catch (e) {
      if (e.name !== 'AbortError') showError(errors, e, 'Cannot read the projections');
    }
  };
  every(2000, signal, refresh);
  for (const [name, entry] of jobs) {
    if (entry.job?.state === 'running') followJob(name, signal, refresh);
  }
}

// A row built once and updated in place, so a refresh never takes the focus off its button.
function addRow(tbody, name, signal, refresh) {
  const cells = { state: h('td', { 'data-label': 'State' }), generation: h('td', { class: 'num', 'data-label': 'Generation' }),
    checkpoint: h('td', { class: 'num', 'data-label': 'Checkpoint (seq)' }), lag: h('td', { class: 'num', 'data-label': 'Lag (events)' }),
    job: h('div', { class: 'job', 'aria-live': 'polite' }) };
  const button = h('button', { type: 'button', id: `rebuild-${name}` }, `Rebuild ${name}`);
  button.addEventListener('click', () => startRebuild(name, signal, refresh));
  tbody.append(h('tr', { 'data-projection': name },
    h('td', { 'data-label': 'Projection' }, h('code', {}, name)), cells.state, cells.generation, cells.checkpoint, cells.lag,
    h('td', { 'data-label': 'Rebuild' }, button, cells.job)));
  return {
    update(p) {
      fill(cells.state, badge(p.state.replace('_', ' '), p.state),
        p.error ? h('div', { class: 'problem' }, p.error, p.failedAt ? ` at ${p.failedAt}` : '') : null);
      cells.generation.textContent = fmtInt(p.generation);
      cells.checkpoint.textContent = fmtInt(p.checkpoint);
      cells.lag.textContent = fmtInt(p.lag);
      const entry = jobs.get(name);
      if (entry?.job?.state === 'done' && entry.toGeneration === undefined && p.state === 'running') {
        entry.toGeneration = p.generation;
      }
      button.disabled = entry?.job?.state === 'running';
      fill(cells.job, entry ? jobView(entry) : null);
    },
  };
}

async function startRebuild(name, signal, refresh) {
  try {
    const { projections } = await api('/api/admin/projections', { signal });
    const fromGeneration = projections.find((p) => p.name === name)?.generation;
    const { job } = await api(`/api/admin/projections/${encodeURIComponent(name)}/rebuild`, { method: 'POST', signal });
    jobs.set(name, { job, fromGeneration });
    await refresh();
    followJob(name, signal, refresh);
  } catch (e) {
    if (e.name === 'AbortError') return;
    jobs.set(name, { startError: e });
    await refresh();
  }
}

// Polls the job until it is done or failed, then refreshes the table (the new generation).
async function followJob(name, signal, refresh) {
  const entry = jobs.get(name);
  while (!signal.aborted && entry.job.state === 'running') {
    await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
    try {
      entry.job = (await api(`/api/admin/jobs/${entry.job.id}`, { signal })).job;
      entry.error = null;
    } catch (e) {
      if (e.name === 'AbortError') return;
      entry.error = e;
    }
    await refresh();
  }
}

function jobView({ job, fromGeneration, toGeneration, error, startError }) {
  if (startError) return [errorNote(startError, 'The rebuild did not start')];
  const total = job.eventsTotal;
  const percent = total > 0 ? Math.min(100, Math.floor((100 * job.eventsDone) / total)) : (job.state === 'done' ? 100 : 0);
  const label = `rebuild of ${job.projections.join(', ')}`;
  return [
    h('progress', { max: 100, value: percent, 'aria-label': label }),
    h('div', { class: 'job-text' },
      h('strong', {}, `${percent} %`), ' · ', job.state, ' · ',
      `${fmtInt(job.eventsDone)} / ${fmtInt(total)} events · ${fmtRate(job.eventsPerSecond)}`,
      job.state === 'running' ? ` · ETA ${fmtSeconds(job.etaSeconds)}` : '',
      job.state === 'done' && toGeneration !== undefined
        ? h('div', { class: 'generation-change' }, `generation ${fmtInt(fromGeneration)} → ${fmtInt(toGeneration)}`) : null,
      job.error ? h('div', { class: 'problem' }, `Failed: ${job.error}`) : null),
    error ? h('div', { class: 'problem' }, `Cannot follow the job: ${error.message}`) : null,
  ];
}

// The consistency check: run it, read the report, and repair after confirming.
function checkSection(signal) {
  const report = h('div', { 'aria-live': 'polite' });
  const run = h('button', { type: 'button', id: 'check-run' }, 'Run the consistency check');
  const repair = h('button', { type: 'button', id: 'check-repair', class: 'danger' }, 'Repair…');
  const confirm = repairDialog(() => runCheck(true));
  async function runCheck(withRepair) {
    run.disabled = repair.disabled = true;
    report.replaceChildren(h('p', { class: 'muted' }, withRepair ? 'Repairing: rebuilding what drifted…' : 'Replaying the log and comparing…'));
    try {
      const result = await api(`/api/admin/check?repair=${withRepair}`, { method: 'POST', signal });
      report.replaceChildren(checkReport(result));
    } catch (e) {
      if (e.name !== 'AbortError') showError(report, e, 'The check failed');
    } finally {
      run.disabled = repair.disabled = false;
    }
  }
  run.addEventListener('click', () => runCheck(false));
  repair.addEventListener('click', () => confirm.showModal());
  return h('section', { 'aria-labelledby': 'check-title' },
    h('h2', { id: 'check-title' }, 'Consistency check'),
    h('p', { class: 'muted' }, 'Replays the log into scratch tables and compares them key by key with every read model. ',
      'Repair rebuilds each projection that drifted.'),
    h('div', { class: 'toolbar' }, run, repair), report, confirm);
}

function repairDialog(onConfirm) {
  const dialog = h('dialog', { 'aria-labelledby': 'repair-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'repair-title' }, 'Repair the read models?'),
      h('p', {}, 'This runs the check and rebuilds every projection that drifted from the log. ',
        'Queries keep being answered from the old generation until each rebuild has caught up.'),
      h('div', { class: 'actions' },
        h('button', { value: 'cancel', class: 'secondary', autofocus: true }, 'Cancel'),
        h('button', { value: 'repair', class: 'danger', id: 'repair-confirm' }, 'Repair'))));
  dialog.addEventListener('close', () => {
    if (dialog.returnValue === 'repair') onConfirm();
  });
  return dialog;
}

function checkReport(r) {
  const verdict = r.consistent
    ? h('p', {}, badge('consistent', 'ok'), ` ${fmtInt(r.keysCompared)} keys compared, no differences.`)
    : h('p', {}, badge('drift', 'bad'), ` ${fmtInt(r.differencesTotal)} differences in ${fmtInt(r.keysCompared)} keys; drifted: `,
      r.drifted.join(', ') || '—');
  return h('div', { class: 'panel check-report' }, verdict,
    r.repaired.length ? h('p', {}, `Repaired (rebuilt): ${r.repaired.join(', ')}. Run the check again to confirm.`) : null,
    r.differences.length ? table(
      [{ label: 'Projection' }, { label: 'Table' }, { label: 'Key' }, { label: 'Replay has' }, { label: 'Read model has' }],
      r.differences.map((d) => [d.projection, d.table, h('code', {}, d.key),
        d.expected === null ? h('em', {}, 'nothing') : h('code', {}, d.expected),
        d.actual === null ? h('em', {}, 'nothing') : h('code', {}, d.actual)]),
      { caption: 'Differences between the replay and the read models' }) : null,
    r.differencesTotal > r.differences.length
      ? h('p', { class: 'muted' }, `Showing ${r.differences.length} of ${fmtInt(r.differencesTotal)}.`) : null);
}
