// Progress display: a cli-progress bar on a terminal, otherwise (CI, logs, pipes) one plain line
// every few seconds, so long work always shows that it is moving.
import cliProgress from 'cli-progress';

export interface Progress {
  start(total: number, label: string): void;
  update(done: number, fields: Record<string, string>): void;
  stop(): void;
}

export function createProgress(options: { stream?: NodeJS.WriteStream; intervalMs?: number } = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: '{label} [{bar}] {value}/{total} {fields} eta {eta_formatted}',
        barCompleteChar: '█',
        barIncompleteChar: '░',
        hideCursor: true,
        stream,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    return {
      start: (total, label) => bar.start(total, 0, { label, fields: '' }),
      update: (done, fields) => bar.update(done, { fields: formatFields(fields) }),
      stop: () => bar.stop(),
    };
  }
  const interval = options.intervalMs ?? 10_000;
  let total = 0;
  let label = '';
  let last = 0;
  let started = 0;
  return {
    start(t, l) {
      total = t;
      label = l;
      started = Date.now();
      last = 0;
    },
    update(done, fields) {
      const now = Date.now();
      if (now - last < interval && done < total) return;
      last = now;
      const elapsed = (now - started) / 1000;
      const eta = done > 0 ? (elapsed / done) * (total - done) : NaN;
      stream.write(`${label} ${done}/${total} ${formatFields(fields)} elapsed ${elapsed.toFixed(0)}s eta ${Number.isFinite(eta) ? eta.toFixed(0) + 's' : '?'}\n`);
    },
    stop() {},
  };
}

function formatFields(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k} ${v}`)
    .join(' | ');
}
