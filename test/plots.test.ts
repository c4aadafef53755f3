import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  embeddingSvg,
  escapeXml,
  formatTick,
  knnAccuracySvg,
  lineChartSvg,
  lossCurveSvg,
  niceTicks,
  pca2d,
  pcaEmbeddingSvg,
  readableClassNames,
  svgToPng,
} from '../moco/eval/plots';
import { assertClose, assertThrows } from './helpers/assert';
import { caseGenerator } from './helpers/check';

// ---- a small XML reader: enough to say an SVG is well-formed and to count its elements

interface XmlElement {
  name: string;
  attrs: Map<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITY = /&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;

function decode(s: string, where: string): string {
  const stray = s.replace(ENTITY, '').match(/[&<]/);
  if (stray) throw new Error(`XML error: ${where}: unescaped '${stray[0]}' in "${s}"`);
  return s.replace(ENTITY, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e] ?? '?');
}

/** Parses a document with one root element; throws on any well-formedness problem it knows of. */
function parseXml(src: string): XmlElement {
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const fail = (msg: string): never => {
    throw new Error(`XML error at ${i}: ${msg} near "${src.slice(Math.max(0, i - 40), i + 40)}"`);
  };
  while (i < src.length) {
    if (src[i] !== '<') {
      const end = src.indexOf('<', i);
      const text = src.slice(i, end < 0 ? src.length : end);
      if (stack.length === 0 && text.trim() !== '') fail('text outside the root element');
      if (stack.length) stack[stack.length - 1]!.text += decode(text, 'text');
      i = end < 0 ? src.length : end;
      continue;
    }
    if (src.startsWith('</', i)) {
      const m = /^<\/([A-Za-z][\w:.-]*)\s*>/.exec(src.slice(i));
      if (!m) fail('bad closing tag');
      const open = stack.pop();
      if (!open || open.name !== m![1]) fail(`closing </${m![1]}> does not match <${open?.name}>`);
      i += m![0].length;
      continue;
    }
    const m = /^<([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(src.slice(i));
    if (!m) fail('bad opening tag');
    const attrs = new Map<string, string>();
    for (const a of m![2]!.matchAll(/([A-Za-z_:][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      if (attrs.has(a[1]!)) fail(`duplicate attribute ${a[1]}`);
      attrs.set(a[1]!, decode(a[2] ?? a[3] ?? '', `attribute ${a[1]}`));
    }
    const el: XmlElement = { name: m![1]!, attrs, children: [], text: '' };
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else if (root) fail('a second root element');
    else root = el;
    if (!m![3]) stack.push(el);
    i += m![0].length;
  }
  if (stack.length) throw new Error(`XML error: <${stack[stack.length - 1]!.name}> is never closed`);
  if (!root) throw new Error('XML error: no root element');
  return root;
}

function all(el: XmlElement, pred: (e: XmlElement) => boolean, out: XmlElement[] = []): XmlElement[] {
  if (pred(el)) out.push(el);
  for (const c of el.children) all(c, pred, out);
  return out;
}

const byClass = (cls: string) => (e: XmlElement) => (e.attrs.get('class') ?? '').split(' ').includes(cls);
const textOf = (e: XmlElement): string => e.text + e.children.map(textOf).join('');

/** Well-formed, an <svg> root with the SVG namespace and a size, no NaN/Infinity anywhere, rendered by librsvg. */
async function checkSvg(svg: string): Promise<XmlElement> {
  const root = parseXml(svg);
  assert.is(root.name, 'svg');
  assert.is(root.attrs.get('xmlns'), 'http://www.w3.org/2000/svg');
  assert.ok(Number(root.attrs.get('width')) > 0 && Number(root.attrs.get('height')) > 0);
  assert.not.match(svg, /NaN|Infinity|undefined/);
  const png = await svgToPng(svg);
  assert.equal(Array.from(png.subarray(0, 8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG came out');
  return root;
}

/** The (x, y) vertices of each sub-path of a path's d (M/L absolute commands only). */
function subPaths(d: string): [number, number][][] {
  const out: [number, number][][] = [];
  for (const m of d.matchAll(/([ML])\s*(-?[\d.]+)[ ,](-?[\d.]+)/g)) {
    if (m[1] === 'M') out.push([]);
    out[out.length - 1]!.push([Number(m[2]), Number(m[3])]);
  }
  return out;
}

test('the XML reader used here rejects malformed documents', () => {
  for (const bad of ['<svg><g></svg>', '<svg a="1" a="2"/>', '<svg>a & b</svg>', '<svg x=1/>', '<svg/><svg/>', '<svg>', 'text<svg/>']) {
    assertThrows(() => parseXml(bad), 'XML error');
  }
  assert.is(parseXml('<svg a="&lt;&amp;"><t>x &gt; y</t></svg>').children[0]!.text, 'x > y');
});

test('lossCurveSvg: one path per series, lr in a second panel, legend entries, the data mapped linearly', async () => {
  const g = caseGenerator();
  const steps = Array.from({ length: 300 }, (_, i) => i * 10);
  const loss = steps.map((s) => 8 * Math.exp(-s / 1500) + 0.2 * g.normal());
  const lr = steps.map((s) => 0.03 * 0.5 * (1 + Math.cos((Math.PI * s) / 3000)));
  const root = await checkSvg(lossCurveSvg({ x: steps, loss, lr, smooth: 0.9 }, { title: 'MoCo <v2> & loss' }));
  const paths = all(root, byClass('series'));
  assert.equal(paths.map((p) => p.attrs.get('data-series')), ['loss', 'loss (EMA 0.9)', 'learning rate']);
  assert.is(all(root, byClass('panel')).length, 2);
  assert.equal(all(root, byClass('legend-entry')).map(textOf), ['loss', 'loss (EMA 0.9)', 'learning rate']);
  assert.is(textOf(all(root, byClass('title'))[0]!), 'MoCo <v2> & loss');
  assert.equal(all(root, byClass('x-label')).map(textOf).filter(Boolean), ['step']);
  // vertices ∝ data: pixel x and y are affine in step and loss (within the 0.01-px rounding)
  const pts = subPaths(paths[0]!.attrs.get('d')!);
  assert.is(pts.length, 1);
  assert.is(pts[0]!.length, 300);
  const [x0, y0] = pts[0]![0]!;
  const [x1, y1] = pts[0]![299]!;
  for (let i = 0; i < 300; i += 37) {
    const [x, y] = pts[0]![i]!;
    assert.ok(Math.abs((x - x0) / (x1 - x0) - (steps[i]! - steps[0]!) / (steps[299]! - steps[0]!)) < 1e-3);
    assert.ok(Math.abs((y - y0) / (y1 - y0) - (loss[i]! - loss[0]!) / (loss[299]! - loss[0]!)) < 2e-3);
  }
  assert.ok(y1 < y0 === loss[299]! > loss[0]!, 'larger values are drawn higher');
});

test('NaN and infinite values break the line; empty and all-NaN series give no path and say "no data"', async () => {
  const x = [0, 1, 2, 3, 4, 5, 6, 7];
  const y = [5, 4, NaN, 3, Infinity, 2, 1.5, NaN];
  const root = await checkSvg(lossCurveSvg({ x, loss: y }));
  const paths = all(root, byClass('series'));
  assert.is(paths.length, 1);
  assert.equal(subPaths(paths[0]!.attrs.get('d')!).map((s) => s.length), [2, 1, 2]);

  const empty = await checkSvg(lossCurveSvg({ x: [], loss: [], lr: [] }));
  assert.is(all(empty, byClass('series')).length, 0);
  assert.is(all(empty, byClass('no-data')).length, 2, 'both panels say no data');
  assert.equal(all(empty, byClass('legend-entry')).map(textOf), ['loss (no data)', 'learning rate (no data)']);

  const mixed = await checkSvg(
    lineChartSvg(
      [
        { name: 'all missing', x: [1, 2], y: [NaN, NaN] },
        { name: 'one point', x: [3], y: [0.5] },
      ],
      { title: 't', xLabel: 'x', yLabel: 'y', markers: true },
    ),
  );
  assert.equal(all(mixed, byClass('series')).map((p) => p.attrs.get('data-series')), ['one point']);
  assert.is(all(mixed, (e) => e.name === 'circle').length, 1);
  assert.equal(all(mixed, byClass('legend-entry')).map(textOf), ['all missing (no data)', 'one point']);
  assert.is(all(mixed, byClass('no-data')).length, 0);
});

test('knnAccuracySvg: markers at each evaluated epoch, extra series, percent axis', async () => {
  const epochs = [10, 20, 30, 40, 50];
  const root = await checkSvg(
    knnAccuracySvg(epochs, [21.5, 35, NaN, 48.25, 52], { extra: [{ name: 'linear top-1', x: [50], y: [60.1] }] }),
  );
  const paths = all(root, byClass('series'));
  assert.equal(paths.map((p) => p.attrs.get('data-series')), ['kNN top-1', 'linear top-1']);
  const markers = all(root, byClass('markers'));
  assert.equal(markers.map((m) => m.children.length), [4, 1]);
  assert.equal(all(root, byClass('y-label')).map(textOf), ['top-1 accuracy (%)']);
  await checkSvg(knnAccuracySvg([], []));
});

test('niceTicks and formatTick', () => {
  for (const [lo, hi] of [[0, 1], [0.0003, 0.03], [-5, 123], [7, 7], [0, 0], [1e-9, 3e-9], [6.2, 8.4]]) {
    const t = niceTicks(lo!, hi!);
    assert.ok(t.lo <= lo! && t.hi >= hi! && t.hi > t.lo, `[${lo}, ${hi}] → [${t.lo}, ${t.hi}]`);
    const step = t.ticks[1]! - t.ticks[0]!;
    const mantissa = step / 10 ** Math.floor(Math.log10(step));
    assert.ok([1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-6), `step ${step}`);
    assert.ok(t.ticks.length >= 2 && t.ticks.length <= 12);
  }
  assert.is(formatTick(0), '0');
  assert.is(formatTick(0.03), '0.03');
  assert.is(formatTick(0.0001), '1e-4');
  assert.is(formatTick(250000), '2.5e5');
  assert.is(formatTick(0.1 + 0.2), '0.3');
  assert.is(escapeXml(`a<b>&"c'`), 'a&lt;b&gt;&amp;&quot;c&apos;');
});

// ---- PCA against a Jacobi eigen-decomposition of the same covariance

function jacobiEigen(a: Float64Array, d: number): { values: number[]; vectors: Float64Array[] } {
  const m = Float64Array.from(a);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += m[p * d + q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = m[p * d + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * d + q]! - m[p * d + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const mkp = m[k * d + p]!;
          const mkq = m[k * d + q]!;
          m[k * d + p] = c * mkp - s * mkq;
          m[k * d + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < d; k++) {
          const mpk = m[p * d + k]!;
          const mqk = m[q * d + k]!;
          m[p * d + k] = c * mpk - s * mqk;
          m[q * d + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p]!;
          const vkq = v[k * d + q]!;
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: d }, (_, i) => i).sort((x, y) => m[y * d + y]! - m[x * d + x]!);
  return {
    values: order.map((i) => m[i * d + i]!),
    vectors: order.map((i) => Float64Array.from({ length: d }, (_, k) => v[k * d + i]!)),
  };
}

test('pca2d: top-2 components and variances equal a Jacobi eigen-decomposition of the covariance', () => {
  const g = caseGenerator();
  for (const [n, d] of [[200, 6], [97, 24], [3, 5]]) {
    // data with decreasing spread along random directions, plus a mean offset
    const scales = Array.from({ length: d }, (_, j) => 3 / (1 + j));
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = 5 + scales[j]! * g.normal() + 0.3 * g.normal();
    const pca = pca2d(x, n, d);
    const mean = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j]! / n;
    const cov = new Float64Array(d * d);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < d; a++) {
        for (let b = 0; b < d; b++) cov[a * d + b] += ((x[i * d + a]! - mean[a]!) * (x[i * d + b]! - mean[b]!)) / (n - 1);
      }
    }
    const eig = jacobiEigen(cov, d);
    assertClose(pca.mean, mean, { rtol: 1e-12, atol: 1e-12 }, 'mean');
    assertClose(pca.variances, eig.values.slice(0, 2), { rtol: 1e-9, atol: 1e-12 }, `variances n ${n} d ${d}`);
    assertClose([pca.totalVariance], [eig.values.reduce((a, b) => a + b, 0)], { rtol: 1e-9, atol: 1e-12 }, 'total variance');
    for (let c = 0; c < 2; c++) {
      const u = pca.components[c]!;
      const w = eig.vectors[c]!;
      const sign = Math.sign(u.reduce((s, ui, k) => s + ui * w[k]!, 0));
      assertClose(u, Array.from(w, (v) => sign * v), { rtol: 0, atol: 1e-6 }, `component ${c + 1} (n ${n}, d ${d})`);
      let big = 0;
      for (let k = 1; k < d; k++) if (Math.abs(u[k]!) > Math.abs(u[big]!)) big = k;
      assert.ok(u[big]! > 0, 'sign convention: the largest entry is positive');
    }
    // points are the centred rows projected on the components
    for (let i = 0; i < n; i += Math.max(1, Math.floor(n / 5))) {
      for (let c = 0; c < 2; c++) {
        let p = 0;
        for (let j = 0; j < d; j++) p += (x[i * d + j]! - mean[j]!) * pca.components[c]![j]!;
        assert.ok(Math.abs(pca.points[2 * i + c]! - p) < 1e-9);
      }
    }
  }
  const flat = pca2d(new Float32Array(12).fill(2), 4, 3); // no variance at all
  assert.equal(flat.variances, [0, 0]);
  assert.ok(Array.from(flat.points).every((v) => v === 0));
  assertThrows(() => pca2d(new Float32Array(5), 2, 3), 'pca2d', 'n·d');
});

test('embeddingSvg: one colour group per class, a legend of class names, NaN points left out', async () => {
  const g = caseGenerator();
  const names = ['tench', 'English springer', 'cassette <player>', 'chain saw & co', 'church'];
  const n = 60;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 4); // class 4 has no points
  const points = Float64Array.from({ length: 2 * n }, () => g.normal());
  points[0] = NaN;
  points[7] = Infinity;
  const root = await checkSvg(embeddingSvg(points, labels, names));
  const groups = all(root, byClass('class-points'));
  assert.equal(groups.map((e) => e.attrs.get('data-class')), names.slice(0, 4));
  assert.equal(groups.map((e) => e.children.length), [14, 15, 15, 14], 'points 0 (class 0) and 3 (class 3) have a non-finite coordinate');
  assert.equal(new Set(groups.map((e) => e.attrs.get('fill'))).size, 4, 'distinct colours');
  assert.equal(all(root, byClass('legend-entry')).map(textOf), [...names.slice(0, 4), 'church (no data)']);
  const none = await checkSvg(embeddingSvg([], [], names));
  assert.is(all(none, byClass('no-data')).length, 1);
  assertThrows(() => embeddingSvg([0, 0], [5], names), 'embeddingSvg', 'label 5');
  assertThrows(() => embeddingSvg([0], [0], names), 'embeddingSvg', 'expected 2');
});

test('pcaEmbeddingSvg: axis labels carry each component share of the variance', async () => {
  const g = caseGenerator();
  const [n, d] = [80, 16];
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  const x = Float32Array.from({ length: n * d }, (_, j) => (j % d === 0 ? 4 * labels[Math.floor(j / d)]! : 0) + 0.5 * g.normal());
  const root = await checkSvg(pcaEmbeddingSvg(x, n, d, labels, ['a', 'b', 'c']));
  const pca = pca2d(x, n, d);
  const xl = textOf(all(root, byClass('x-label'))[0]!);
  assert.is(xl, `PC 1 (${((100 * pca.variances[0]) / pca.totalVariance).toFixed(1)}% of variance)`);
  assert.ok((100 * pca.variances[0]) / pca.totalVariance > 50, 'the class axis dominates');
  assert.is(all(root, (e) => e.name === 'circle').length, n + 3, 'every point and 3 legend swatches');
});

test('readableClassNames: Imagenette wnids get their names, other folder names stay', () => {
  assert.equal(readableClassNames(['n01440764', 'n03888257', 'cats']), ['tench (n01440764)', 'parachute (n03888257)', 'cats']);
});

test.run();
