// Prints the first WebGPU adapter Dawn finds as one JSON line, or exits 1 when there is none.
import { create, globals } from 'webgpu';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
Object.assign(globalThis, globals);
let gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  gpu = null;
  process.exit(1);
}
const { vendor, architecture, device, description } = adapter.info;
console.log(JSON.stringify({ vendor, architecture, device, description, features: [...adapter.features].sort() }));
gpu = null;
process.exit(0);
