// Training and evaluation plots as self-contained SVG strings (no browser, no fonts to ship):
//   lossCurveSvg   the loss per step or epoch, with the learning rate in a second panel below
//   knnAccuracySvg kNN top-1 per evaluated epoch (and any other accuracy series)
//   embeddingSvg   a 2-D embedding (e.g. pca2d of the val features), one colour per class, legend
//   lineChartSvg   the generic line chart the first two are made of
// Every series is one <path class="series"> (a NaN or infinite value breaks the line: the path
// starts a new sub-path after it); a series without a finite point draws no path and its legend
// entry says "no data"; a panel without any finite point says "no data". Axes use 1-2-5 ticks over
// the finite values. svgToPng renders one with sharp (librsvg) when a PNG is wanted.
// pca2d: top-2 principal components of [n, d] features in float64 — covariance Xcᵀ·Xc/(n − 1),
// then power iteration (the second component with the first projected out at every step).
import { Generator } from '../../lib/index';

export interface Series {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** CSS colour (default: the palette, by series index). */
  color?: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Size in pixels (default 720 × 400). */
  width?: number;
  height?: number;
  /** Draw a circle at every finite point (default false). */
  markers?: boolean;
  /** Fixed y range (default: the finite values' range). */
  yRange?: [number, number];
}

/** Tableau's 20 categorical colours, strong ones first. */
export const PALETTE: readonly string[] = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
  '#aec7e8', '#ffbb78', '#98df8a', '#ff9896', '#c5b0d5', '#c49c94', '#f7b6d2', '#c7c7c7', '#dbdb8d', '#9edae5',
];

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

/** Text escaped for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** A coordinate with at most 2 decimals (finite by construction). */
function n2(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** A tick label: short, exponent notation for very small or large values. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(1).replace('.0e', 'e').replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

/** Ticks at multiples of 1, 2 or 5 × 10^k covering [lo, hi] with about `count` steps, and the padded range. */
export function niceTicks(lo: number, hi: number, count = 5): { ticks: number[]; lo: number; hi: number } {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return niceTicks(0, 1, count);
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const start = Math.floor(lo / step) * step;
  const end = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let i = 0; start + i * step <= end + step * 1e-9; i++) ticks.push(Number((start + i * step).toPrecision(12)));
  return { ticks, lo: start, hi: end };
}

function finiteRange(values: ArrayLike<number>[]): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const arr of values) {
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i]!;
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

function finitePoint(s: Series, i: number): boolean {
  return Number.isFinite(s.x[i]!) && Number.isFinite(s.y[i]!);
}

function hasData(s: Series): boolean {
  const n = Math.min(s.x.length, s.y.length);
  for (let i = 0; i < n; i++) if (finitePoint(s, i)) return true;
  return false;
}

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

function svgOpen(width: number, height: number, title: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="${FONT}" font-size="12">\n` +
    `<title>${escapeXml(title)}</title>\n` +
    `<rect width="${width}" height="${height}" fill="#ffffff"/>\n` +
    `<text class="title" x="${n2(width / 2)}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(title)}</text>\n`
  );
}

function legend(entries: { name: string; color: string; empty: boolean }[], x: number, y: number, marker: 'line' | 'dot'): string {
  let out = `<g class="legend" transform="translate(${n2(x)},${n2(y)})">\n`;
  entries.forEach((e, i) => {
    const cy = i * 18;
    const swatch =
      marker === 'line'
        ? `<line x1="0" y1="${cy}" x2="18" y2="${cy}" stroke="${e.color}" stroke-width="2.5"/>`
        : `<circle cx="9" cy="${cy}" r="4.5" fill="${e.color}"/>`;
    const label = escapeXml(e.name) + (e.empty ? ' (no data)' : '');
    out += `<g class="legend-entry">${swatch}<text x="24" y="${cy + 4}">${label}</text></g>\n`;
  });
  return out + '</g>\n';
}

/** Axes, grid, tick labels and axis titles of one panel; returns the SVG and the data→pixel maps. */
function axes(
  box: Box,
  xr: [number, number],
  yr: [number, number],
  xLabel: string,
  yLabel: string,
): { svg: string; px: (v: number) => number; py: (v: number) => number } {
  const xt = niceTicks(xr[0], xr[1], 6);
  const yt = niceTicks(yr[0], yr[1], 5);
  const px = (v: number) => box.left + ((v - xt.lo) / (xt.hi - xt.lo)) * box.width;
  const py = (v: number) => box.top + box.height - ((v - yt.lo) / (yt.hi - yt.lo)) * box.height;
  let svg = `<g class="axes" stroke="#d0d0d0" stroke-width="1">\n`;
  for (const t of xt.ticks) svg += `<line x1="${n2(px(t))}" y1="${box.top}" x2="${n2(px(t))}" y2="${box.top + box.height}"/>\n`;
  for (const t of yt.ticks) svg += `<line x1="${box.left}" y1="${n2(py(t))}" x2="${box.left + box.width}" y2="${n2(py(t))}"/>\n`;
  svg += `<rect x="${box.left}" y="${box.top}" width="${box.width}" height="${box.height}" fill="none" stroke="#404040"/>\n</g>\n`;
  svg += `<g class="ticks" fill="#303030">\n`;
  for (const t of xt.ticks) {
    svg += `<text x="${n2(px(t))}" y="${box.top + box.height + 16}" text-anchor="middle">${escapeXml(formatTick(t))}</text>\n`;
  }
  for (const t of yt.ticks) svg += `<text x="${box.left - 6}" y="${n2(py(t) + 4)}" text-anchor="end">${escapeXml(formatTick(t))}</text>\n`;
  svg += '</g>\n';
  const cx = box.left + box.width / 2;
  const cy = box.top + box.height / 2;
  svg += `<text class="x-label" x="${n2(cx)}" y="${box.top + box.height + 36}" text-anchor="middle" font-size="13">${escapeXml(xLabel)}</text>\n`;
  svg +=
    `<text class="y-label" x="${n2(box.left - 52)}" y="${n2(cy)}" text-anchor="middle" font-size="13" ` +
    `transform="rotate(-90 ${n2(box.left - 52)} ${n2(cy)})">${escapeXml(yLabel)}</text>\n`;
  return { svg, px, py };
}

function noData(box: Box): string {
  const at = `x="${n2(box.left + box.width / 2)}" y="${n2(box.top + box.height / 2)}"`;
  return `<text class="no-data" ${at} text-anchor="middle" fill="#808080" font-size="14">no data</text>\n`;
}

/** One panel of line series inside `box`. */
function linePanel(series: Series[], box: Box, xLabel: string, yLabel: string, markers: boolean, yRange?: [number, number]): string {
  const xr = finiteRange(series.map((s) => s.x)) ?? [0, 1];
  const yr = yRange ?? finiteRange(series.map((s) => s.y)) ?? [0, 1];
  const { svg: axesSvg, px, py } = axes(box, xr, yr, xLabel, yLabel);
  let svg = axesSvg;
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length]!;
    if (!hasData(s)) return;
    let d = '';
    let open = false;
    const dots: string[] = [];
    const n = Math.min(s.x.length, s.y.length);
    for (let i = 0; i < n; i++) {
      if (!finitePoint(s, i)) {
        open = false;
        continue;
      }
      const x = n2(px(s.x[i]!));
      const y = n2(py(s.y[i]!));
      d += `${open ? 'L' : 'M'}${x} ${y} `;
      open = true;
      if (markers) dots.push(`<circle cx="${x}" cy="${y}" r="3.5"/>`);
    }
    svg +=
      `<path class="series" data-series="${escapeXml(s.name)}" d="${d.trim()}" ` +
      `fill="none" stroke="${color}" stroke-width="1.8" stroke-linejoin="round"/>\n`;
    if (markers) svg += `<g class="markers" fill="${color}">${dots.join('')}</g>\n`;
  });
  if (!series.some(hasData)) svg += noData(box);
  return `<g class="panel">\n${svg}</g>\n`;
}

function legendEntries(series: Series[]): { name: string; color: string; empty: boolean }[] {
  return series.map((s, k) => ({ name: s.name, color: s.color ?? PALETTE[k % PALETTE.length]!, empty: !hasData(s) }));
}

const MARGIN = { left: 78, right: 24, legend: 190 };

/** A line chart of one or more series with a legend on the right. */
export function lineChartSvg(series: Series[], options: ChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 400;
  const box: Box = { left: MARGIN.left, top: 44, width: width - MARGIN.left - MARGIN.legend, height: height - 44 - 52 };
  return (
    svgOpen(width, height, options.title) +
    linePanel(series, box, options.xLabel, options.yLabel, options.markers ?? false, options.yRange) +
    legend(legendEntries(series), box.left + box.width + 20, box.top + 10, 'line') +
    '</svg>\n'
  );
}

export interface LossCurve {
  /** Step (or epoch) of each value. */
  x: ArrayLike<number>;
  loss: ArrayLike<number>;
  /** Learning rate at each x (drawn in a second panel when given). */
  lr?: ArrayLike<number>;
  /** Add an exponential moving average of the loss with this smoothing factor in (0, 1), e.g. 0.9. */
  smooth?: number;
}

/** Exponential moving average that skips (and keeps) non-finite values. */
export function ema(values: ArrayLike<number>, beta: number): Float64Array {
  const out = new Float64Array(values.length);
  let m = NaN;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      out[i] = NaN;
      continue;
    }
    m = Number.isNaN(m) ? v : beta * m + (1 - beta) * v;
    out[i] = m;
  }
  return out;
}

/** The loss curve (top panel) and, when `lr` is given, the learning rate (bottom panel). */
export function lossCurveSvg(curve: LossCurve, options: { title?: string; xLabel?: string; width?: number } = {}): string {
  const width = options.width ?? 720;
  const title = options.title ?? 'Training loss';
  const xLabel = options.xLabel ?? 'step';
  const series: Series[] = [{ name: 'loss', x: curve.x, y: curve.loss }];
  if (curve.smooth !== undefined) {
    if (!(curve.smooth > 0 && curve.smooth < 1)) throw new Error(`lossCurveSvg: smooth must be in (0, 1), got ${curve.smooth}`);
    series.push({ name: `loss (EMA ${curve.smooth})`, x: curve.x, y: ema(curve.loss, curve.smooth), color: '#d62728' });
  }
  const plotWidth = width - MARGIN.left - MARGIN.legend;
  const top: Box = { left: MARGIN.left, top: 44, width: plotWidth, height: 280 };
  const withLr = curve.lr !== undefined;
  const lrSeries: Series[] = withLr ? [{ name: 'learning rate', x: curve.x, y: curve.lr!, color: '#2ca02c' }] : [];
  const bottom: Box = { left: MARGIN.left, top: top.top + top.height + 64, width: plotWidth, height: 140 };
  const height = withLr ? bottom.top + bottom.height + 52 : top.top + top.height + 52;
  let svg = svgOpen(width, height, title);
  svg += linePanel(series, top, withLr ? '' : xLabel, 'loss', false);
  if (withLr) svg += linePanel(lrSeries, bottom, xLabel, 'learning rate', false);
  svg += legend(legendEntries([...series, ...lrSeries]), top.left + top.width + 20, top.top + 10, 'line');
  return svg + '</svg>\n';
}

/** kNN top-1 (percent) per evaluated epoch, with markers; `extra` adds more accuracy series. */
export function knnAccuracySvg(
  epochs: ArrayLike<number>,
  top1: ArrayLike<number>,
  options: { title?: string; extra?: Series[]; width?: number; height?: number } = {},
): string {
  const series: Series[] = [{ name: 'kNN top-1', x: epochs, y: top1 }, ...(options.extra ?? [])];
  const range = finiteRange(series.map((s) => s.y));
  return lineChartSvg(series, {
    title: options.title ?? 'kNN accuracy',
    xLabel: 'epoch',
    yLabel: 'top-1 accuracy (%)',
    markers: true,
    ...(range ? { yRange: [Math.max(0, range[0]), Math.min(100, Math.max(range[1], range[0] + 1))] as [number, number] } : {}),
    ...(options.width ? { width: options.width } : {}),
    ...(options.height ? { height: options.height } : {}),
  });
}

/** Imagenette's WordNet ids (its folder names) and the readable class names. */
export const IMAGENETTE_NAMES: Readonly<Record<string, string>> = {
  n01440764: 'tench',
  n02102040: 'English springer',
  n02979186: 'cassette player',
  n03000684: 'chain saw',
  n03028079: 'church',
  n03394916: 'French horn',
  n03417042: 'garbage truck',
  n03425413: 'gas pump',
  n03445777: 'golf ball',
  n03888257: 'parachute',
};

/** Legend labels for class folder names: "tench (n01440764)" for an Imagenette wnid, else the name itself. */
export function readableClassNames(classes: readonly string[]): string[] {
  return classes.map((c) => (IMAGENETTE_NAMES[c] ? `${IMAGENETTE_NAMES[c]} (${c})` : c));
}

export interface EmbeddingOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Size of the square plot area (default 520). */
  size?: number;
}

/**
 * Scatter plot of 2-D points (row-major [n, 2]) coloured by class, with a legend of the class
 * names. Points with a non-finite coordinate are left out.
 */
export function embeddingSvg(points: ArrayLike<number>, labels: ArrayLike<number>, classNames: readonly string[], options: EmbeddingOptions = {}): string {
  const n = labels.length;
  if (points.length !== 2 * n) throw new Error(`embeddingSvg: ${points.length} coordinates for ${n} labels; expected ${2 * n} (rows of x, y)`);
  for (let i = 0; i < n; i++) {
    const l = labels[i]!;
    if (!Number.isInteger(l) || l < 0 || l >= classNames.length) {
      throw new Error(`embeddingSvg: label ${l} at ${i} is not a class in [0, ${classNames.length})`);
    }
  }
  const size = options.size ?? 520;
  const box: Box = { left: MARGIN.left, top: 44, width: size, height: size };
  const width = box.left + box.width + 24 + Math.max(160, 24 + 8 * Math.max(0, ...classNames.map((c) => c.length)));
  const height = Math.max(box.top + box.height + 52, box.top + 10 + 18 * classNames.length + 20);
  const xs: number[] = [];
  const ys: number[] = [];
  const ok = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const x = points[2 * i]!;
    const y = points[2 * i + 1]!;
    if (Number.isFinite(x) && Number.isFinite(y)) {
      ok[i] = 1;
      xs.push(x);
      ys.push(y);
    }
  }
  const pad = (r: [number, number] | null): [number, number] => {
    if (!r) return [0, 1];
    const p = (r[1] - r[0]) * 0.04;
    return [r[0] - p, r[1] + p];
  };
  const { svg: axesSvg, px, py } = axes(box, pad(finiteRange([xs])), pad(finiteRange([ys])), options.xLabel ?? 'PC 1', options.yLabel ?? 'PC 2');
  let svg = svgOpen(width, height, options.title ?? 'Validation features (PCA)') + '<g class="panel">\n' + axesSvg;
  const counts = new Array<number>(classNames.length).fill(0);
  classNames.forEach((name, c) => {
    const dots: string[] = [];
    for (let i = 0; i < n; i++) {
      if (ok[i] && labels[i] === c) dots.push(`<circle cx="${n2(px(points[2 * i]!))}" cy="${n2(py(points[2 * i + 1]!))}" r="2.6"/>`);
    }
    counts[c] = dots.length;
    if (dots.length) {
      const fill = PALETTE[c % PALETTE.length];
      svg += `<g class="class-points" data-class="${escapeXml(name)}" fill="${fill}" fill-opacity="0.75">${dots.join('')}</g>\n`;
    }
  });
  if (xs.length === 0) svg += noData(box);
  svg += '</g>\n';
  svg += legend(
    classNames.map((name, c) => ({ name, color: PALETTE[c % PALETTE.length]!, empty: counts[c] === 0 })),
    box.left + box.width + 20,
    box.top + 10,
    'dot',
  );
  return svg + '</svg>\n';
}

/** Renders an SVG string to PNG bytes with sharp (Node only; sharp is loaded on first use). */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  const { default: sharp } = await import('sharp');
  return new Uint8Array(await sharp(Buffer.from(svg)).png().toBuffer());
}

export interface Pca2d {
  /** Row-major [n, 2]: each row's coordinates on the two components. */
  points: Float64Array;
  /** The two unit principal directions (length d each); the largest-magnitude entry of each is positive. */
  components: [Float64Array, Float64Array];
  /** Variance along each component (its covariance eigenvalue). */
  variances: [number, number];
  /** Total variance (trace of the covariance). */
  totalVariance: number;
  mean: Float64Array;
  /** Power iterations each component took. */
  iterations: [number, number];
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * The top two principal components of n rows of d features (row-major, any numeric array) in
 * float64: power iteration on the d×d covariance until the direction moves less than `tolerance`
 * (default 1e-12) or `maxIterations` (default 2000) are done.
 */
export function pca2d(features: ArrayLike<number>, n: number, d: number, options: { maxIterations?: number; tolerance?: number } = {}): Pca2d {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(d) || d < 1 || features.length !== n * d) {
    throw new Error(`pca2d: ${features.length} values for n = ${n} rows of d = ${d} features; expected n·d with d ≥ 1`);
  }
  const maxIterations = options.maxIterations ?? 2000;
  const tolerance = options.tolerance ?? 1e-12;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += features[i * d + j]!;
  if (n > 0) for (let j = 0; j < d; j++) mean[j] /= n;
  // covariance: the upper triangle accumulated four centred rows at a time, then mirrored
  const cov = new Float64Array(d * d);
  const rows = [0, 1, 2, 3].map(() => new Float64Array(d));
  const [r0, r1, r2, r3] = rows as [Float64Array, Float64Array, Float64Array, Float64Array];
  for (let i = 0; i < n; i += 4) {
    rows.forEach((r, k) => {
      if (i + k < n) for (let j = 0; j < d; j++) r[j] = features[(i + k) * d + j]! - mean[j]!;
      else r.fill(0);
    });
    for (let a = 0; a < d; a++) {
      const a0 = r0[a]!;
      const a1 = r1[a]!;
      const a2 = r2[a]!;
      const a3 = r3[a]!;
      const base = a * d;
      for (let b = a; b < d; b++) cov[base + b] += a0 * r0[b]! + a1 * r1[b]! + a2 * r2[b]! + a3 * r3[b]!;
    }
  }
  const denom = Math.max(1, n - 1);
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b]! / denom;
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  }
  let trace = 0;
  for (let a = 0; a < d; a++) trace += cov[a * d + a]!;

  const g = new Generator(12345);
  const multiply = (v: Float64Array, out: Float64Array) => {
    for (let a = 0; a < d; a++) {
      let s = 0;
      const base = a * d;
      for (let b = 0; b < d; b++) s += cov[base + b]! * v[b]!;
      out[a] = s;
    }
  };
  const orthogonalize = (v: Float64Array, against: Float64Array[]) => {
    for (const u of against) {
      const p = dot(v, u);
      for (let i = 0; i < d; i++) v[i] -= p * u[i]!;
    }
  };
  const normalizeInPlace = (v: Float64Array): number => {
    const norm = Math.sqrt(dot(v, v));
    if (norm > 0) for (let i = 0; i < d; i++) v[i] /= norm;
    return norm;
  };
  const component = (against: Float64Array[]): { v: Float64Array; iterations: number } => {
    const v = Float64Array.from({ length: d }, () => g.normal());
    orthogonalize(v, against);
    if (normalizeInPlace(v) === 0) v[against.length % d] = 1; // d = 1: nothing left to be orthogonal to
    const w = new Float64Array(d);
    let iterations = 0;
    while (iterations < maxIterations) {
      iterations++;
      multiply(v, w);
      orthogonalize(w, against);
      if (normalizeInPlace(w) === 0) break; // no variance left: keep v
      let change = 0;
      for (let i = 0; i < d; i++) change = Math.max(change, Math.abs(w[i]! - v[i]!));
      v.set(w);
      if (change < tolerance) break;
    }
    let big = 0;
    for (let i = 1; i < d; i++) if (Math.abs(v[i]!) > Math.abs(v[big]!)) big = i;
    if (v[big]! < 0) for (let i = 0; i < d; i++) v[i] = -v[i]!;
    return { v, iterations };
  };
  const c1 = component([]);
  const c2 = d > 1 ? component([c1.v]) : { v: new Float64Array(d), iterations: 0 };
  const variance = (v: Float64Array) => {
    const w = new Float64Array(d);
    multiply(v, w);
    return dot(v, w);
  };
  const points = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    let p1 = 0;
    let p2 = 0;
    for (let j = 0; j < d; j++) {
      const x = features[i * d + j]! - mean[j]!;
      p1 += x * c1.v[j]!;
      p2 += x * c2.v[j]!;
    }
    points[2 * i] = p1;
    points[2 * i + 1] = p2;
  }
  return {
    points,
    components: [c1.v, c2.v],
    variances: [variance(c1.v), d > 1 ? variance(c2.v) : 0],
    totalVariance: trace,
    mean,
    iterations: [c1.iterations, c2.iterations],
  };
}

/** PCA of [n, d] features and the embedding plot of the first two components, axes labelled with their share of the variance. */
export function pcaEmbeddingSvg(
  features: ArrayLike<number>,
  n: number,
  d: number,
  labels: ArrayLike<number>,
  classNames: readonly string[],
  options: { title?: string } = {},
): string {
  const pca = pca2d(features, n, d);
  const share = (v: number) => (pca.totalVariance > 0 ? ` (${((100 * v) / pca.totalVariance).toFixed(1)}% of variance)` : '');
  return embeddingSvg(pca.points, labels, classNames, {
    title: options.title ?? 'Validation features (PCA)',
    xLabel: `PC 1${share(pca.variances[0])}`,
    yLabel: `PC 2${share(pca.variances[1])}`,
  });
}
