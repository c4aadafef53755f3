// PyTorch on the CPU as a second peer: runs bench/torch_cpu.py with Debian's python3-torch
// (installed for /usr/bin/python3) and reads its JSON lines.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// '../bench/' resolves from both bench/torch.ts and the bundle dist/bench.js.
const script = fileURLToPath(new URL('../bench/torch_cpu.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

export function torchAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;
}

/** Median ms per spec; throws with the script's error output when it fails. */
export function timeTorch(specs: string[], repeats: number): Map<string, number> {
  const r = spawnSync(PYTHON, [script, '--repeats', String(repeats), ...specs], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/torch_cpu.py failed:\n${r.stderr}`);
  const out = new Map<string, number>();
  for (const line of r.stdout.trim().split('\n').filter(Boolean)) {
    const { spec, ms } = JSON.parse(line) as { spec: string; ms: number };
    out.set(spec, ms);
  }
  return out;
}
