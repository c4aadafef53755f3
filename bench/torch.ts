// PyTorch on the CPU as a second peer: runs bench/torch_cpu.py with Debian's python3-torch
// (installed for /usr/bin/python3) and reads its JSON lines.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TimingOptions } from './harness';

// '../bench/' resolves from both bench/torch.ts and the bundle dist/bench.js.
const script = fileURLToPath(new URL('../bench/torch_cpu.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

export function torchAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;
}

export interface TorchTiming {
  /** Median wall-clock ms. */
  ms: number;
  /** torch.get_num_threads() the script ran with. */
  threads: number;
}

/** Median ms and thread count per spec; throws with the script's error output when it fails. */
export function timeTorch(specs: string[], o: TimingOptions): Map<string, TorchTiming> {
  const args = [script, '--repeats', String(o.repeats), '--warmup', String(o.warmup), ...specs];
  const r = spawnSync(PYTHON, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/torch_cpu.py failed:\n${r.stderr}`);
  const out = new Map<string, TorchTiming>();
  for (const line of r.stdout.trim().split('\n').filter(Boolean)) {
    const { spec, ms, threads } = JSON.parse(line) as { spec: string; ms: number; threads: number };
    out.set(spec, { ms, threads });
  }
  return out;
}
