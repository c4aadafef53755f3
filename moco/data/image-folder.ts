// Scans an ImageFolder tree: <root>/<split>/<class>/**/<image>. Classes are the split's folder names
// in sorted (code-unit, i.e. C-locale for ASCII) order and a class's index is its position there,
// as in torchvision's ImageFolder; files are listed in sorted order (sub-folders of a class are
// walked, symlinks followed). Images are the files whose extension is one of IMAGE_EXTENSIONS (case
// ignored); every other file, and every hidden (dot) entry, is not an image and is listed in
// `ignored` (so it is counted, never decoded). Whether an image actually decodes is the cache
// builder's business. The size and mtime of each file are kept for the cache's fingerprint.
import { readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';

export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png'];

export interface ImageFile {
  /** Absolute path. */
  path: string;
  /** Path relative to the split folder, '/'-separated: `<class>/<name>`. */
  rel: string;
  label: number;
  bytes: number;
  mtimeMs: number;
}

export interface FolderScan {
  /** Absolute dataset root. */
  root: string;
  split: string;
  /** Absolute split folder: root/split. */
  dir: string;
  classes: string[];
  /** Every image file, grouped by class in class order, sorted by path within a class. */
  files: ImageFile[];
  /** Relative paths of entries that are not images (wrong extension, hidden, or loose in the split folder). */
  ignored: string[];
}

export interface ScanOptions {
  /**
   * The class list to index by (e.g. the train split's, when scanning val). A class without a folder
   * gets no images; a folder that is not in the list is an error. Default: the split's sorted folders.
   */
  classes?: readonly string[];
}

const isHidden = (name: string) => name.startsWith('.');
const isImageName = (name: string) => IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The class folder names of one split folder, sorted; hidden folders are skipped. */
export function listClasses(splitDir: string): string[] {
  return readdirSync(splitDir)
    .filter((name) => !isHidden(name) && isDirectory(join(splitDir, name)))
    .sort();
}

function walk(dir: string, rel: string, label: number, files: ImageFile[], ignored: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const relPath = `${rel}/${name}`;
    if (isHidden(name)) {
      ignored.push(relPath);
      continue;
    }
    let stat;
    try {
      stat = statSync(path);
    } catch {
      ignored.push(relPath); // a dangling symlink: nothing to read
      continue;
    }
    if (stat.isDirectory()) walk(path, relPath, label, files, ignored);
    else if (stat.isFile() && isImageName(name)) files.push({ path, rel: relPath, label, bytes: stat.size, mtimeMs: stat.mtimeMs });
    else ignored.push(relPath);
  }
}

/** Lists the images of root/split (see the file comment for the rules). */
export function scanImageFolder(root: string, split: string, options: ScanOptions = {}): FolderScan {
  const absRoot = resolve(root);
  const dir = join(absRoot, split);
  if (!isDirectory(dir)) {
    throw new Error(
      `scanImageFolder: ${dir} is not a folder; expected an ImageFolder tree ${absRoot}/${split}/<class>/<image> ` +
        `(e.g. ${split}/n01440764/a.jpg)`,
    );
  }
  const found = listClasses(dir);
  const classes = options.classes ? [...options.classes] : found;
  if (classes.length === 0) throw new Error(`scanImageFolder: ${dir} has no class folders; expected ${dir}/<class>/<image>`);
  if (new Set(classes).size !== classes.length) throw new Error(`scanImageFolder: the class list [${classes.join(', ')}] has duplicates`);
  const unknown = found.filter((name) => !classes.includes(name));
  if (unknown.length > 0) {
    throw new Error(
      `scanImageFolder: ${dir} has class folders [${unknown.join(', ')}] that are not in the given class list ` +
        `[${classes.join(', ')}]`,
    );
  }
  const files: ImageFile[] = [];
  const ignored: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!found.includes(name)) ignored.push(name);
  }
  classes.forEach((name, label) => {
    if (found.includes(name)) walk(join(dir, name), name, label, files, ignored);
  });
  if (files.length === 0) {
    throw new Error(`scanImageFolder: ${dir} has no images (${IMAGE_EXTENSIONS.join(', ')}) in its ${classes.length} class folders`);
  }
  return { root: absRoot, split, dir, classes, files, ignored };
}

/** Images per class, indexed by label. */
export function classCounts(scan: Pick<FolderScan, 'classes' | 'files'>): number[] {
  const counts = new Array<number>(scan.classes.length).fill(0);
  for (const f of scan.files) counts[f.label]!++;
  return counts;
}
